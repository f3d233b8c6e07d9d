// Gallery thumbnails for the hair form: GET /api/gallery gives [{ id, name, uses, thumbnailUrl,
// imageUrl }]. Each reference kind (shape, color) shows the items that can serve it as radio
// tiles; picking one sends shapeId/colorId, uploading an image of one's own clears the pick.

import { catalogApi } from './api.js';
import { h } from './dom.js';

let galleryPromise = null;

/** The gallery, fetched once; an empty list when the gateway has none (404) or cannot be reached. */
export function loadGallery() {
  galleryPromise ??= catalogApi.gallery().then(
    (items) => (Array.isArray(items) ? items : Array.isArray(items?.items) ? items.items : []).filter((i) => i && i.id != null),
    (error) => ({ error }));
  return galleryPromise;
}

export class GalleryPicker {
  /**
   * @param {HTMLElement} root  the [data-gallery] container
   * @param {string} use        "shape" or "color"
   * @param {{ onPick?: (item) => void }} hooks
   */
  constructor(root, use, hooks = {}) {
    this.root = root;
    this.use = use;
    this.hooks = hooks;
    this.name = `${use}Id`;
    this.root.replaceChildren(h('p', { class: 'muted gallery-note' }, 'Loading the gallery…'));
    loadGallery().then((result) => this.draw(result));
  }

  get value() {
    return this.root.querySelector(`input[name="${this.name}"]:checked`)?.value ?? null;
  }

  clear() {
    for (const input of this.root.querySelectorAll('input')) input.checked = false;
  }

  draw(result) {
    if (!Array.isArray(result)) {
      this.root.replaceChildren(h('p', { class: 'muted gallery-note' }, 'The gallery could not be loaded; upload a reference below.'));
      return;
    }
    const items = result.filter((item) => !Array.isArray(item.uses) || item.uses.length === 0 || item.uses.includes(this.use));
    if (items.length === 0) {
      this.root.replaceChildren(h('p', { class: 'muted gallery-note' }, 'This gateway has no gallery yet; upload a reference below.'));
      return;
    }
    this.root.replaceChildren(...items.map((item) => {
      const input = h('input', { type: 'radio', name: this.name, value: item.id, class: 'visually-hidden', 'data-gallery-item': item.id });
      input.addEventListener('change', () => input.checked && this.hooks.onPick?.(item));
      return h('label', { class: 'gallery-item', title: item.name ?? item.id },
        input,
        h('img', { src: item.thumbnailUrl ?? item.imageUrl, alt: '', loading: 'lazy', decoding: 'async' }),
        h('span', { class: 'gallery-name' }, item.name ?? item.id));
    }));
  }
}
