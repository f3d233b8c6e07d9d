// Validates what `helm template` rendered for the TalkingFace chart:
//  1. every object against its schema: Kubernetes' own (kubernetes-models), KEDA's and the Prometheus
//     Operator's CRDs (@kubernetes-models/keda, /prometheus-operator); an unknown apiVersion/kind fails;
//  2. strictly: a field the schema does not know (a typo such as `runtimeclassName`) fails, the way a
//     server-side apply with --validate=strict would (the compiled validators allow extra fields);
//  3. what the chart promises, from the values it was rendered with (see the assert* functions).
//
// node validate.mjs --rendered out.yaml --values chart/values.yaml [--values extra.yaml ...] [--expect-dashboards N]
// node validate.mjs --self-test     # the checks must catch deliberately broken manifests
import { readFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, parse as parseYaml } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");

// ---------------------------------------------------------------------------------------------------
// Schemas

const packages = [
  { test: (g) => g === "keda.sh" || g === "eventing.keda.sh", pkg: "@kubernetes-models/keda", group: true },
  { test: (g) => g === "monitoring.coreos.com", pkg: "@kubernetes-models/prometheus-operator", group: true },
  { test: () => true, pkg: "kubernetes-models", group: false },
];

function modelPath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const entry = packages.find((p) => p.test(group));
  const folder = group === "" ? version : `${group}/${version}`;
  return { spec: `${entry.pkg}/${folder}/${kind}`, file: join(modules, entry.pkg, folder, `${kind}.js`) };
}

async function schemaErrors(doc) {
  const { spec, file } = modelPath(doc.apiVersion, doc.kind);
  if (!existsSync(file)) return [`no schema for ${doc.apiVersion} ${doc.kind}`];
  const module = await import(spec);
  const Model = module[doc.kind];
  try {
    new Model(doc).validate();
    return [...unknownFields(file.replace(/\.js$/, ".d.ts"), null, doc, "")];
  } catch (e) {
    return [e.message];
  }
}

// The models' .d.ts files describe every field; walk the object against them.
const interfaces = new Map();

function parseInterface(dts, name) {
  const key = `${dts}#${name ?? ""}`;
  if (interfaces.has(key)) return interfaces.get(key);
  let result = null;
  if (existsSync(dts)) {
    const text = readFileSync(dts, "utf8").replace(/\/\*\*[\s\S]*?\*\//g, "");
    const imports = new Map();
    for (const m of text.matchAll(/import \{ (\w+) \} from "([^"]+)";/g)) imports.set(m[1], m[2]);
    const head = name ? new RegExp(`export interface ${name}\\b[^{]*\\{`) : /export interface \w+[^{]*\{/;
    const start = text.search(head);
    if (start >= 0) {
      const body = text.slice(text.indexOf("{", start) + 1);
      const props = new Map();
      let depth = 0, current = null, type = "";
      for (const line of body.split("\n")) {
        if (depth === 0) {
          if (/^\}/.test(line)) break;
          const m = line.match(/^\s{4}"?([^"?:]+)"?\??: (.*)$/);
          if (!m) continue;
          current = m[1]; type = m[2];
        } else {
          type += "\n" + line;
        }
        depth += (line.match(/\{/g) || []).length - (line.match(/\}/g) || []).length;
        if (depth === 0 && current) { props.set(current, type.replace(/;\s*$/, "")); current = null; }
      }
      result = { props, imports, file: dts };
    }
  }
  interfaces.set(key, result);
  return result;
}

function resolveImport(fromFile, spec) {
  if (spec.startsWith(".")) return resolve(dirname(fromFile), spec.replace(/\.js$/, ".d.ts"));
  return join(modules, spec + ".d.ts");
}

function* unknownFields(dts, name, value, path) {
  const shape = parseInterface(dts, name);
  if (!shape || value === null || typeof value !== "object" || Array.isArray(value)) return;
  for (const [field, child] of Object.entries(value)) {
    const type = shape.props.get(field);
    if (type === undefined) { yield `${path}/${field}: unknown field`; continue; }
    yield* checkType(shape, type.trim(), child, `${path}/${field}`);
  }
}

function* checkType(shape, type, value, path) {
  const array = type.match(/^Array<(.*)>$/s);
  if (array) {
    if (Array.isArray(value)) for (let i = 0; i < value.length; i++) yield* checkType(shape, array[1].trim(), value[i], `${path}/${i}`);
    return;
  }
  const map = type.match(/^\{\s*\[key: string\]: (.*?);?\s*\}$/s);
  if (map) {
    if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) yield* checkType(shape, map[1].trim(), v, `${path}/${k}`);
    return;
  }
  const ref = type.match(/^(I\w+)$/);
  if (ref && shape.imports.has(ref[1])) {
    const target = resolveImport(shape.file, shape.imports.get(ref[1]));
    yield* unknownFields(target, null, value, path);
  }
  // Primitives, unions and inline literals: the schema validator has checked them.
}

// ---------------------------------------------------------------------------------------------------
// Values: the chart's defaults with the extra values files over them (maps merged, the rest replaced).

function merge(base, over) {
  if (!isMap(base) || !isMap(over)) return over === undefined ? base : over;
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? merge(out[k], v) : v;
  return out;
}
const isMap = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

function components(values) {
  return (values.workers ?? []).map((w) => {
    const c = merge(merge(values.workerDefaults ?? {}, values.deviceClasses?.[w.deviceClass] ?? {}), w);
    return { ...c, name: `worker-${w.stage}-${w.deviceClass}`, queue: `${w.stage}.${w.deviceClass}` };
  });
}

// ---------------------------------------------------------------------------------------------------
// What the chart promises

const TALKINGFACE = new Set(["gateway", "migrations"]);
const componentOf = (doc) => doc.metadata?.labels?.["app.kubernetes.io/component"];
const podSpecOf = (doc) =>
  doc.kind === "Job" || doc.kind === "Deployment" || doc.kind === "StatefulSet" ? doc.spec?.template?.spec : null;
const SECRET_NAME = /pass(word)?|secret|token|connection.?string|access.?key|credential|(^|_)uri$/i;

function check(docs, values, options) {
  const failures = [];
  let passed = 0;
  const expect = (ok, message) => { if (ok) passed++; else failures.push(message); };
  const byKind = (kind) => docs.filter((d) => d.kind === kind);
  const find = (kind, name) => docs.find((d) => d.kind === kind && d.metadata?.name === name);
  const workers = components(values);
  const deployed = workers.filter((c) => c.native !== true);
  const deployments = byKind("Deployment");
  const deploymentOf = (c) => deployments.find((d) => componentOf(d) === c.name);
  const keda = values.keda?.enabled === true;
  const hpa = !keda && values.autoscaling?.enabled === true;

  // Secrets: the rendered ones (decoded), and which Secret names pods may reference.
  const secrets = byKind("Secret");
  const secretValues = new Map();
  for (const s of secrets) {
    const data = {};
    for (const [k, v] of Object.entries(s.data ?? {})) data[k] = Buffer.from(v, "base64").toString("utf8");
    for (const [k, v] of Object.entries(s.stringData ?? {})) data[k] = v;
    secretValues.set(s.metadata.name, data);
  }
  const existing = values.secrets?.existingSecret;
  // The actual secrets (not user names or host names, which may appear in plain env values).
  const plaintext = [...secretValues.values()]
    .flatMap((d) => Object.entries(d).filter(([k]) => /pass|secret|token/i.test(k)).map(([, v]) => v))
    .filter((v) => v.length >= 8);

  // Every stage x class component that is not native has its Deployment, with its queue and class.
  for (const c of workers) {
    const d = deploymentOf(c);
    if (c.native === true) { expect(!d, `${c.queue}: native component must not render a Deployment`); continue; }
    expect(!!d, `${c.queue}: no Deployment with component label ${c.name}`);
    if (!d) continue;
    expect(d.metadata.labels?.["talkingface.io/queue"] === c.queue, `${c.queue}: Deployment label talkingface.io/queue is ${d.metadata.labels?.["talkingface.io/queue"]}`);
    const env = Object.fromEntries((d.spec.template.spec.containers[0].env ?? []).map((e) => [e.name, e]));
    expect(env.Worker__DeviceClass?.value === c.deviceClass, `${c.queue}: Worker__DeviceClass is ${env.Worker__DeviceClass?.value}`);
    expect(env.Worker__Concurrency?.value === String(c.concurrency ?? 1), `${c.queue}: Worker__Concurrency is ${env.Worker__Concurrency?.value}, values say ${c.concurrency}`);
    (c.providers ?? []).forEach((p, i) =>
      expect(env[`Inference__Providers__${c.deviceClass}__${i}`]?.value === p, `${c.queue}: execution provider ${i} should be ${p}`));
    const spec = d.spec.template.spec;
    const limits = spec.containers[0].resources?.limits ?? {};
    const gpus = Number(c.gpus ?? 0);
    if (gpus > 0) {
      expect(String(limits["nvidia.com/gpu"]) === String(gpus), `${c.queue}: GPU class needs nvidia.com/gpu: ${gpus} in limits, has ${limits["nvidia.com/gpu"]}`);
      expect((spec.tolerations ?? []).some((t) => t.key === "nvidia.com/gpu"), `${c.queue}: GPU class needs a nvidia.com/gpu toleration`);
    } else {
      expect(!("nvidia.com/gpu" in limits) && !("nvidia.com/gpu" in (spec.containers[0].resources?.requests ?? {})),
        `${c.queue}: class ${c.deviceClass} is not a GPU class but requests nvidia.com/gpu`);
    }
    if (c.deviceClass === "jetson") {
      expect(spec.nodeSelector?.["kubernetes.io/arch"] === "arm64", `${c.queue}: Jetson needs nodeSelector kubernetes.io/arch: arm64`);
      expect(spec.runtimeClassName === "nvidia", `${c.queue}: Jetson needs runtimeClassName: nvidia`);
    }
    if (keda || hpa) expect(d.spec.replicas === undefined, `${c.queue}: an autoscaled Deployment must not set replicas (helm upgrade would reset the scaler's count)`);
    else expect(d.spec.replicas === (c.replicas ?? 1), `${c.queue}: replicas ${d.spec.replicas}, values say ${c.replicas}`);

    const a = c.autoscaling ?? {};
    const scaled = byKind("ScaledObject").filter((s) => s.spec.scaleTargetRef?.name === d.metadata.name);
    const hpas = byKind("HorizontalPodAutoscaler").filter((h) => h.spec.scaleTargetRef?.name === d.metadata.name);
    if (keda) {
      expect(scaled.length === 1, `${c.queue}: expected one ScaledObject for ${d.metadata.name}, found ${scaled.length}`);
      expect(hpas.length === 0, `${c.queue}: KEDA is on, yet an HPA targets ${d.metadata.name}`);
      const so = scaled[0];
      if (so) {
        const t = so.spec.triggers?.[0];
        expect(t?.type === "rabbitmq", `${c.queue}: ScaledObject trigger type is ${t?.type}`);
        expect(t?.metadata?.queueName === c.queue, `${c.queue}: ScaledObject watches queue ${t?.metadata?.queueName}`);
        expect(t?.metadata?.mode === "QueueLength" && t?.metadata?.value === String(a.queueLength), `${c.queue}: ScaledObject target should be QueueLength ${a.queueLength}`);
        expect("activationValue" in (t?.metadata ?? {}), `${c.queue}: ScaledObject has no activationValue`);
        expect(so.spec.minReplicaCount === (a.scaleToZero === true ? 0 : a.minReplicas), `${c.queue}: minReplicaCount ${so.spec.minReplicaCount} (scaleToZero ${a.scaleToZero}, minReplicas ${a.minReplicas})`);
        expect(so.spec.maxReplicaCount === a.maxReplicas, `${c.queue}: maxReplicaCount ${so.spec.maxReplicaCount}, values say ${a.maxReplicas}`);
        const auth = find("TriggerAuthentication", t?.authenticationRef?.name);
        expect(!!auth, `${c.queue}: TriggerAuthentication ${t?.authenticationRef?.name} is not rendered`);
        const ref = auth?.spec?.secretTargetRef?.find((r) => r.parameter === "host");
        expect(!!ref && (ref.name === existing || secretValues.get(ref.name)?.[ref.key] !== undefined),
          `${c.queue}: TriggerAuthentication must take the broker host from a Secret key that exists`);
      }
    } else {
      expect(scaled.length === 0, `${c.queue}: KEDA is off, yet a ScaledObject targets ${d.metadata.name}`);
      if (hpa) {
        expect(hpas.length === 1, `${c.queue}: expected one HPA for ${d.metadata.name} (KEDA off), found ${hpas.length}`);
        if (hpas[0]) expect(hpas[0].spec.minReplicas >= 1 && hpas[0].spec.maxReplicas === a.maxReplicas, `${c.queue}: HPA replicas ${hpas[0].spec.minReplicas}-${hpas[0].spec.maxReplicas}`);
      }
    }
    if (values.metrics?.serviceMonitor?.enabled) expect(monitored(docs, c.name), `${c.queue}: no ServiceMonitor selects a Service of ${c.name} on port http, path /metrics`);
  }
  for (const d of deployments) {
    const c = componentOf(d);
    if (c?.startsWith("worker-")) expect(deployed.some((w) => w.name === c), `${d.metadata.name}: a worker Deployment that no workers entry asked for`);
  }
  expect(!!deployments.find((d) => componentOf(d) === "gateway"), "no gateway Deployment");
  expect(!!find("Service", deployments.find((d) => componentOf(d) === "gateway")?.metadata.name), "no gateway Service");
  if (values.gateway?.ingress?.enabled) expect(byKind("Ingress").length === 1, "gateway.ingress.enabled but no Ingress");
  if (values.metrics?.serviceMonitor?.enabled) expect(monitored(docs, "gateway"), "no ServiceMonitor for the gateway");

  // Pods: credentials only through secretKeyRef, probes on the health endpoints, non-root and locked down.
  for (const doc of docs) {
    const spec = podSpecOf(doc);
    if (!spec) continue;
    const who = `${doc.kind} ${doc.metadata.name}`;
    const component = componentOf(doc) ?? "";
    const ours = TALKINGFACE.has(component) || component.startsWith("worker-");
    const pod = spec.securityContext ?? {};
    expect(pod.seccompProfile?.type === "RuntimeDefault", `${who}: pod seccompProfile must be RuntimeDefault`);
    expect(spec.automountServiceAccountToken === false, `${who}: automountServiceAccountToken should be false (no API access needed)`);
    for (const container of [...(spec.initContainers ?? []), ...spec.containers]) {
      const where = `${who} container ${container.name}`;
      const sc = container.securityContext ?? {};
      expect((sc.runAsNonRoot ?? pod.runAsNonRoot) === true, `${where}: runAsNonRoot must be true`);
      expect((sc.runAsUser ?? pod.runAsUser) !== 0, `${where}: runs as uid 0`);
      expect(sc.allowPrivilegeEscalation === false, `${where}: allowPrivilegeEscalation must be false`);
      expect(sc.privileged !== true, `${where}: privileged`);
      expect((sc.capabilities?.drop ?? []).includes("ALL"), `${where}: must drop ALL capabilities`);
      if (ours) {
        expect(sc.readOnlyRootFilesystem === true, `${where}: readOnlyRootFilesystem must be true`);
        const tmp = (container.volumeMounts ?? []).find((m) => m.mountPath === "/tmp");
        expect(!!tmp && (spec.volumes ?? []).some((v) => v.name === tmp.name && v.emptyDir), `${where}: /tmp must be an emptyDir under a read-only root`);
      }
      for (const e of container.env ?? []) {
        if (SECRET_NAME.test(e.name)) expect(e.value === undefined && !!e.valueFrom?.secretKeyRef, `${where}: ${e.name} must come from a secretKeyRef, not a value`);
        if (e.value !== undefined) {
          expect(!/password=|:\/\/[^/\s:@]+:[^@\s]+@/i.test(e.value), `${where}: ${e.name} holds credentials in plain text`);
          expect(!plaintext.some((p) => e.value.includes(p)), `${where}: ${e.name} holds a value from a Secret in plain text`);
        }
        const ref = e.valueFrom?.secretKeyRef;
        if (ref) expect(ref.name === existing || secretValues.get(ref.name)?.[ref.key] !== undefined, `${where}: ${e.name} refers to Secret ${ref.name} key ${ref.key}, which is not rendered`);
      }
      expect(JSON.stringify(container.args ?? []).match(/password|secret/i) === null, `${where}: credentials in args`);
      if (ours && doc.kind !== "Job") {
        expect(container.readinessProbe?.httpGet?.path === "/health/ready", `${where}: readinessProbe must GET /health/ready`);
        expect(container.livenessProbe?.httpGet?.path === "/health/live", `${where}: livenessProbe must GET /health/live`);
        const port = container.readinessProbe?.httpGet?.port;
        expect((container.ports ?? []).some((p) => p.name === port || p.containerPort === port), `${where}: probe port ${port} is not a container port`);
      } else if (doc.kind !== "Job") {
        expect(!!container.readinessProbe && !!container.livenessProbe, `${where}: needs readiness and liveness probes`);
      }
    }
  }
  for (const cm of byKind("ConfigMap"))
    for (const v of Object.values(cm.data ?? {})) expect(!plaintext.some((p) => v.includes(p)), `ConfigMap ${cm.metadata.name}: holds a value from a Secret`);

  // Migrations: a hook Job running --migrate-only before upgrades.
  if (values.migrations?.enabled) {
    const job = byKind("Job").find((j) => componentOf(j) === "migrations");
    expect(!!job, "migrations.enabled but no migration Job");
    const hook = job?.metadata?.annotations?.["helm.sh/hook"] ?? "";
    expect(hook.includes("pre-upgrade") && (hook.includes("pre-install") || hook.includes("post-install")), `migration Job hook is "${hook}"`);
    expect((job?.spec?.template?.spec?.containers?.[0]?.args ?? []).includes("--migrate-only"), "migration Job must run --migrate-only");
  }

  // Monitoring: rules and dashboards when their files exist.
  if (options.expectRules) {
    const rules = byKind("PrometheusRule");
    expect(rules.length === 1 && rules[0].spec.groups.length === options.expectRules, `expected one PrometheusRule with ${options.expectRules} group(s)`);
  }
  const label = values.grafana?.dashboards?.label ?? "grafana_dashboard";
  const dashboards = byKind("ConfigMap").filter((c) => c.metadata.labels?.[label] === (values.grafana?.dashboards?.labelValue ?? "1"));
  if (options.expectDashboards !== undefined)
    expect(dashboards.length === options.expectDashboards, `expected ${options.expectDashboards} dashboard ConfigMap(s), found ${dashboards.length}`);
  for (const d of dashboards)
    for (const [k, v] of Object.entries(d.data ?? {})) {
      let ok = true; try { JSON.parse(v); } catch { ok = false; }
      expect(ok && k.endsWith(".json"), `dashboard ${d.metadata.name}/${k} is not JSON`);
    }

  // Names: DNS labels of at most 63 characters; labels of at most 63.
  for (const doc of docs) {
    const name = doc.metadata?.name ?? "";
    expect(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) && name.length <= 63, `${doc.kind} "${name}": not a DNS label of at most 63 characters`);
    for (const [k, v] of Object.entries(doc.metadata?.labels ?? {}))
      expect(typeof v === "string" && v.length <= 63 && /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v), `${doc.kind} ${name}: label ${k}="${v}" is not a valid label value`);
  }
  const seen = new Set();
  for (const doc of docs) {
    const key = `${doc.kind}/${doc.metadata?.name}`;
    expect(!seen.has(key), `${key} rendered twice`);
    seen.add(key);
  }
  return { passed, failures };
}

function monitored(docs, component) {
  const services = docs.filter((d) => d.kind === "Service" && componentOf(d) === component);
  return docs.some((m) => m.kind === "ServiceMonitor" &&
    services.some((s) => Object.entries(m.spec.selector?.matchLabels ?? {}).every(([k, v]) => s.metadata.labels?.[k] === v) &&
      m.spec.endpoints?.some((e) => e.path === "/metrics" && s.spec.ports.some((p) => p.name === e.port))));
}

// ---------------------------------------------------------------------------------------------------

function readDocs(path) {
  const docs = [];
  for (const d of parseAllDocuments(readFileSync(path, "utf8"))) {
    if (d.errors.length) throw new Error(`${path}: ${d.errors[0].message}`);
    const js = d.toJS();
    if (js) docs.push(js);
  }
  return docs;
}

async function validate(docs, values, options) {
  const failures = [];
  let passed = 0;
  for (const doc of docs) {
    const errors = await schemaErrors(doc);
    if (errors.length) failures.push(...errors.map((e) => `${doc.kind} ${doc.metadata?.name}: ${e}`));
    else passed++;
  }
  const promised = check(docs, values, options);
  return { schemaPassed: passed, passed: passed + promised.passed, failures: [...failures, ...promised.failures] };
}

async function selfTest(values) {
  // Each case breaks one promise in a correct rendering; each must be caught.
  const good = readDocs(process.env.SELF_TEST_RENDERED);
  const deployment = (docs, component) => docs.find((d) => d.kind === "Deployment" && componentOf(d) === component);
  const cases = {
    "unknown field": ["unknown field", (docs) => { deployment(docs, "worker-audio-cpu").spec.template.spec.runtimeclassName = "nvidia"; }],
    "schema type": ["must be string", (docs) => { deployment(docs, "gateway").spec.template.spec.containers[0].image = 42; }],
    "plaintext password": ["must come from a secretKeyRef", (docs) => { deployment(docs, "gateway").spec.template.spec.containers[0].env.push({ name: "Messaging__RabbitMq__Password", value: "hunter2hunter2" }); }],
    "secret value under another name": ["holds a value from a Secret", (docs) => {
      const secret = docs.find((d) => d.kind === "Secret" && d.data?.["rabbitmq-password"]);
      if (!secret) return false;
      const pw = Buffer.from(secret.data["rabbitmq-password"], "base64").toString();
      deployment(docs, "worker-motion-cpu").spec.template.spec.containers[0].env.push({ name: "EXTRA", value: `x${pw}` }); }],
    "GPU on cpu class": ["not a GPU class", (docs) => { deployment(docs, "worker-audio-cpu").spec.template.spec.containers[0].resources.limits["nvidia.com/gpu"] = 1; }],
    "missing probe": ["readinessProbe", (docs) => { delete deployment(docs, "gateway").spec.template.spec.containers[0].readinessProbe; }],
    "root user": ["uid 0", (docs) => { deployment(docs, "worker-hair-cpu").spec.template.spec.securityContext.runAsUser = 0; }],
    "writable root": ["readOnlyRootFilesystem", (docs) => { deployment(docs, "worker-hair-cpu").spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = false; }],
    "missing worker": ["no Deployment", (docs) => { docs.splice(docs.indexOf(deployment(docs, "worker-hair-cpu")), 1); }],
    "jetson without runtime class": ["runtimeClassName", (docs) => { const d = deployment(docs, "worker-audio-jetson"); if (!d) return false; delete d.spec.template.spec.runtimeClassName; }],
    "jetson on amd64": ["arm64", (docs) => { const d = deployment(docs, "worker-motion-jetson"); if (!d) return false; d.spec.template.spec.nodeSelector["kubernetes.io/arch"] = "amd64"; }],
    "GPU class without GPU": ["nvidia.com/gpu: 1", (docs) => { const d = deployment(docs, "worker-audio-rtx"); if (!d) return false; delete d.spec.template.spec.containers[0].resources.limits["nvidia.com/gpu"]; }],
    "ScaledObject on the wrong queue": ["watches queue", (docs) => { const so = docs.find((d) => d.kind === "ScaledObject"); if (!so) return false; so.spec.triggers[0].metadata.queueName = "audio"; }],
    "native component deployed": ["native component", (docs) => { const d = deployment(docs, "worker-audio-rtx"); if (!d) return false; const copy = structuredClone(d); copy.metadata.name += "-x"; copy.metadata.labels["app.kubernetes.io/component"] = "worker-audio-apple"; docs.push(copy); }],
    "unknown kind": ["no schema", (docs) => { docs.push({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } }); }],
  };
  let caught = 0, applicable = 0;
  for (const [name, [reason, breakIt]] of Object.entries(cases)) {
    const docs = structuredClone(good);
    if (breakIt(docs) === false) continue; // this rendering has nothing of the kind
    applicable++;
    const r = await validate(docs, values, {});
    const hit = r.failures.find((f) => f.includes(reason));
    if (hit) { caught++; console.log(`  self-test: ${name}: caught (${hit})`); }
    else console.log(`  self-test: ${name}: NOT CAUGHT (failures: ${r.failures.join("; ") || "none"})`);
  }
  const clean = await validate(good, values, {});
  if (clean.failures.length) console.log(`  self-test: the unbroken rendering fails: ${clean.failures[0]}`);
  console.log(`  self-test: ${caught} of ${applicable} broken renderings caught`);
  return caught === applicable && clean.failures.length === 0;
}

const args = process.argv.slice(2);
const valueFiles = [];
let rendered = null, self = false;
const options = {};
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--values") valueFiles.push(args[++i]);
  else if (args[i] === "--rendered") rendered = args[++i];
  else if (args[i] === "--expect-dashboards") options.expectDashboards = Number(args[++i]);
  else if (args[i] === "--expect-rule-groups") options.expectRules = Number(args[++i]);
  else if (args[i] === "--self-test") self = true;
  else { console.error(`unknown argument ${args[i]}`); process.exit(2); }
}
const values = valueFiles.map((f) => parseYaml(readFileSync(f, "utf8")) ?? {}).reduce(merge, {});

if (self) {
  const ok = await selfTest(values);
  console.log(ok ? "self-test: every broken rendering was caught" : "self-test FAILED");
  process.exit(ok ? 0 : 1);
}
const docs = readDocs(rendered);
const result = await validate(docs, values, options);
for (const f of result.failures) console.log(`  FAIL ${f}`);
console.log(`${rendered}: ${docs.length} objects, ${result.schemaPassed} schema-valid; ${result.passed} checks passed, ${result.failures.length} failed`);
process.exit(result.failures.length ? 1 : 0);
