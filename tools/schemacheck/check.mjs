// Schema compatibility check: GraphQL Inspector's diff between a baseline
// schema and the current one, failing on breaking changes nobody acknowledged.
//
//   node check.mjs <baseline.graphqls> <current.graphqls> <acknowledged.json>
//
// Every change is printed with its criticality (BREAKING, DANGEROUS,
// NON_BREAKING). Exit 0: no BREAKING change, or each one is acknowledged.
// Exit 1: at least one BREAKING change is not acknowledged. Exit 2: bad
// arguments or input (unreadable file, invalid SDL, malformed acknowledgments).
//
// Matching acknowledgments. The JSON file is an array of entries, each with a
// non-empty "reason" (not the TODO placeholder printed below) and either
//   - "type" and "path": inspector's change type (e.g. FIELD_REMOVED) and its
//     schema coordinate (e.g. SessionStatus.wasRenewed); both must equal the
//     change's. This is the preferred form: it does not depend on the wording
//     of inspector's messages, and it acknowledges exactly one kind of change
//     at one place (removing SessionStatus.wasRenewed is not the same entry as
//     changing its type); or
//   - "message": inspector's message, compared exactly (for the few changes
//     that have no path); a "type" beside it must match too.
// Entries that match no current breaking change are reported as stale, but do
// not fail the check. Refreshing the baseline at a release empties the list.
import { readFileSync } from 'node:fs';
import { buildSchema } from 'graphql';
import { diff, CriticalityLevel } from '@graphql-inspector/core';

function fail(msg) {
  console.error(`schemacheck: ${msg}`);
  process.exit(2);
}

const [baselinePath, currentPath, ackPath] = process.argv.slice(2);
if (!baselinePath || !currentPath || !ackPath || process.argv.length !== 5) {
  fail('usage: node check.mjs <baseline.graphqls> <current.graphqls> <acknowledged.json>');
}

function loadSchema(path) {
  let sdl;
  try {
    sdl = readFileSync(path, 'utf8');
  } catch (err) {
    fail(`cannot read ${path}: ${err.message}`);
  }
  try {
    return buildSchema(sdl);
  } catch (err) {
    fail(`${path} is not a valid schema: ${err.message}`);
  }
}

function loadAcknowledged(path) {
  let entries;
  try {
    entries = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    fail(`cannot read ${path}: ${err.message}`);
  }
  if (!Array.isArray(entries)) fail(`${path} must hold a JSON array`);
  entries.forEach((e, i) => {
    const where = `${path} entry ${i}`;
    if (e === null || typeof e !== 'object' || Array.isArray(e)) fail(`${where} is not an object`);
    for (const key of ['type', 'path', 'message', 'reason']) {
      if (key in e && typeof e[key] !== 'string') fail(`${where}: "${key}" must be a string`);
    }
    if (!e.reason || !e.reason.trim()) fail(`${where} has no "reason"`);
    if (/^\s*TODO\b/i.test(e.reason)) fail(`${where}: replace the TODO with the real reason`);
    const byTypePath = e.type && e.path;
    if (!byTypePath && !e.message) fail(`${where} needs "type" and "path", or "message"`);
  });
  return entries;
}

function matches(entry, change) {
  if (entry.type && entry.type !== change.type) return false;
  if (entry.path && entry.path !== change.path) return false;
  if (entry.message && entry.message !== change.message) return false;
  return true;
}

const oldSchema = loadSchema(baselinePath);
const newSchema = loadSchema(currentPath);
const acknowledged = loadAcknowledged(ackPath);
const changes = await diff(oldSchema, newSchema);

const order = {
  [CriticalityLevel.Breaking]: 0,
  [CriticalityLevel.Dangerous]: 1,
  [CriticalityLevel.NonBreaking]: 2,
};
changes.sort(
  (a, b) =>
    order[a.criticality.level] - order[b.criticality.level] ||
    (a.path ?? '').localeCompare(b.path ?? '') ||
    a.type.localeCompare(b.type),
);

const used = new Set();
const unacknowledged = [];
console.log(`schemacheck: ${baselinePath} -> ${currentPath}: ${changes.length} change(s)`);
for (const change of changes) {
  let note = '';
  if (change.criticality.level === CriticalityLevel.Breaking) {
    const i = acknowledged.findIndex((e) => matches(e, change));
    if (i >= 0) {
      used.add(i);
      note = ` (acknowledged: ${acknowledged[i].reason})`;
    } else {
      unacknowledged.push(change);
    }
  }
  const path = change.path ? ` ${change.path}` : '';
  console.log(`  ${change.criticality.level.padEnd(12)} ${change.type}${path}: ${change.message}${note}`);
}

acknowledged.forEach((e, i) => {
  if (!used.has(i)) {
    const id = e.type && e.path ? `${e.type} ${e.path}` : JSON.stringify(e.message);
    console.log(`note: ${ackPath} entry ${i} (${id}) matches no breaking change; remove it`);
  }
});

if (unacknowledged.length === 0) {
  const breaking = changes.filter((c) => c.criticality.level === CriticalityLevel.Breaking).length;
  console.log(
    breaking === 0
      ? 'schemacheck: OK (no breaking change)'
      : `schemacheck: OK (${breaking} breaking change(s), all acknowledged)`,
  );
  process.exit(0);
}

console.log(`\nschemacheck: FAIL: ${unacknowledged.length} breaking change(s) not acknowledged:`);
for (const c of unacknowledged) {
  console.log(`  ${c.type}${c.path ? ` ${c.path}` : ''}: ${c.message}`);
  if (c.criticality.reason) console.log(`    why it breaks: ${c.criticality.reason}`);
}
const snippet = unacknowledged.map((c) =>
  c.path
    ? { type: c.type, path: c.path, reason: 'TODO: why clients can take this break' }
    : { type: c.type, message: c.message, reason: 'TODO: why clients can take this break' },
);
console.log(`
If the break is intended, either
  - acknowledge it: add an entry per change, with a real reason, to ${ackPath}:
${JSON.stringify(snippet, null, 2).replace(/^/gm, '      ')}
  - or, when cutting a release that ships it, refresh the baseline: copy
    ${currentPath} over ${baselinePath} and reset ${ackPath} to [].
Otherwise restore what clients rely on (deprecate with @deprecated instead of removing).`);
process.exit(1);
