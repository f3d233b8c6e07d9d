// Shows API problems (RFC 7807) in plain words: the title, the detail, and every
// validation message, each next to the form field it is about when there is one.

import { $, $$, h, sentence } from './dom.js';

/**
 * @param {HTMLElement} box    the alert box (role="alert") to fill
 * @param {Error} error        an ApiError, or any error
 * @param {HTMLFormElement} [form]  when given, field messages also appear under the fields
 */
export function showProblem(box, error, form) {
  const title = error.title || 'Something went wrong';
  const detail = error.detail || (error.name === 'ApiError' ? '' : error.message);
  const lines = (error.fieldErrors ?? []).map(([field, message]) => fieldMessage(form, field, message));

  if (form) {
    clearFieldErrors(form);
    for (const [field, message] of error.fieldErrors ?? []) markField(form, field, fieldMessage(form, field, message));
  }

  const parts = [
    h('p', { class: 'problem-title' }, title),
    detail && h('p', null, sentence(detail)),
    lines.length > 0 && h('ul', { class: 'problem-list' }, lines.map((line) => h('li', null, line))),
  ];
  box.replaceChildren(...parts.filter(Boolean));
  box.hidden = false;
}

export function clearProblem(box, form) {
  box.hidden = true;
  box.replaceChildren();
  if (form) clearFieldErrors(form);
}

/** "is required: attach an audio file." -> "Speech audio is required: attach an audio file." */
function fieldMessage(form, field, message) {
  const label = fieldLabel(form, field);
  const text = String(message).trim();
  if (/^(is|are|expects|must|should|has|needs)\b/i.test(text)) return sentence(`${label} ${text}`);
  return `${label}: ${sentence(text)}`;
}

function fieldLabel(form, field) {
  const element = form && findField(form, field);
  const label = element?.dataset.label || element?.closest('[data-label]')?.dataset.label;
  if (label) return label;
  // camelCase -> words: "featureModel" -> "Feature model"
  const words = field.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function findField(form, field) {
  return form.elements.namedItem(field) instanceof Element ? form.elements.namedItem(field) : $(`[data-field="${CSS.escape(field)}"]`, form);
}

function markField(form, field, message) {
  const slot = $(`[data-error-for="${CSS.escape(field)}"]`, form);
  const element = findField(form, field);
  if (element instanceof HTMLElement && 'setCustomValidity' in element) element.setAttribute('aria-invalid', 'true');
  if (slot) {
    slot.textContent = message;
    slot.hidden = false;
  }
}

function clearFieldErrors(form) {
  for (const slot of $$('[data-error-for]', form)) {
    slot.textContent = '';
    slot.hidden = true;
  }
  for (const element of $$('[aria-invalid]', form)) element.removeAttribute('aria-invalid');
}
