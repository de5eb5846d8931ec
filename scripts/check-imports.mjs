#!/usr/bin/env node
// Checks the import graph of src/: (a) no import cycles, (b) nothing under src/core imports a file
// outside src/core (the core is the one place with no way out). Relative imports only: packages
// and `node:` specifiers are not files of ours. Plain Node, no dependencies.
//
//   node scripts/check-imports.mjs          exit 0 when clean, 1 with every finding listed
//   node scripts/check-imports.mjs --json   the same findings as JSON
//   node scripts/check-imports.mjs --root=DIR   another checkout (DIR/src)
//
// `import type` counts: a cycle of types is still two files that cannot be read one at a time.
// Each edge is labelled (type-only, dynamic) so the reader sees what kind of cycle it is.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const rootArg = process.argv.find((arg) => arg.startsWith("--root="));
const ROOT = rootArg ? resolve(rootArg.slice("--root=".length)) : resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src");
const CORE = join(SRC, "core");

/** Every .ts file under `dir` (declaration files aside). */
function tsFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out.sort();
}

// Static imports and re-exports start a line (so an `import` inside a string or a doc comment's
// example, which starts with ` * `, is not one); `[^;]*?` spans multi-line specifier lists.
const STATIC = /^[ \t]*(import|export)(\s+type\b)?[^;'"`]*?\bfrom\s*["']([^"']+)["']/gm;
const BARE = /^[ \t]*import\s*["']([^"']+)["']/gm;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** A type-only statement: `import type …`, `export type …`, or `{ … }` whose every name is marked `type`. */
function typeOnly(statement, keywordType) {
  if (keywordType) return true;
  const named = /^\s*(?:import|export)\s*\{([^}]*)\}\s*from/.exec(statement);
  if (!named) return false;
  const names = named[1].split(",").map((name) => name.trim()).filter(Boolean);
  return names.length > 0 && names.every((name) => name.startsWith("type "));
}

/** The relative imports of one file: { spec, kind: "value" | "type-only" | "dynamic" }. */
function importsOf(text) {
  const found = [];
  for (const m of text.matchAll(STATIC)) found.push({ spec: m[3], kind: typeOnly(m[0], m[2] !== undefined) ? "type-only" : "value" });
  for (const m of text.matchAll(BARE)) found.push({ spec: m[1], kind: "value" });
  for (const m of text.matchAll(DYNAMIC)) found.push({ spec: m[1], kind: "dynamic" });
  return found.filter((i) => i.spec.startsWith("./") || i.spec.startsWith("../"));
}

/** The file a relative specifier names (`.ts` is written out in this repo; bare names tried too). */
function resolveSpec(from, spec) {
  const base = resolve(dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, join(base, "index.ts")]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return null;
}

const rel = (path) => relative(ROOT, path).split(sep).join("/");
const inCore = (path) => path === CORE || path.startsWith(CORE + sep);

const files = tsFiles(SRC);
/** file → Map(target → kind); the strongest kind wins (value over dynamic over type-only). */
const graph = new Map();
const unresolved = [];
const coreEscapes = [];
const RANK = { "type-only": 0, dynamic: 1, value: 2 };
for (const file of files) {
  const edges = new Map();
  for (const { spec, kind } of importsOf(readFileSync(file, "utf8"))) {
    const target = resolveSpec(file, spec);
    if (!target) {
      unresolved.push({ file: rel(file), spec });
      continue;
    }
    if (inCore(file) && !inCore(target)) coreEscapes.push({ file: rel(file), target: rel(target), kind });
    const known = edges.get(target);
    if (!known || RANK[kind] > RANK[known]) edges.set(target, kind);
  }
  graph.set(file, edges);
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
function cyclicComponents() {
  let index = 0;
  const stack = [];
  const state = new Map(); // file → { index, low, onStack }
  const components = [];
  const visit = (root) => {
    // Iterative, so a deep import chain cannot overflow the call stack.
    const work = [{ file: root, targets: [...(graph.get(root)?.keys() ?? [])], next: 0 }];
    state.set(root, { index, low: index++, onStack: true });
    stack.push(root);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      if (frame.next < frame.targets.length) {
        const target = frame.targets[frame.next++];
        if (!graph.has(target)) continue; // outside src/
        const seen = state.get(target);
        if (!seen) {
          state.set(target, { index, low: index++, onStack: true });
          stack.push(target);
          work.push({ file: target, targets: [...graph.get(target).keys()], next: 0 });
        } else if (seen.onStack) {
          state.get(frame.file).low = Math.min(state.get(frame.file).low, seen.index);
        }
        continue;
      }
      work.pop();
      const mine = state.get(frame.file);
      if (work.length > 0) {
        const parent = state.get(work[work.length - 1].file);
        parent.low = Math.min(parent.low, mine.low);
      }
      if (mine.low === mine.index) {
        const component = [];
        let member;
        do {
          member = stack.pop();
          state.get(member).onStack = false;
          component.push(member);
        } while (member !== frame.file);
        if (component.length > 1 || graph.get(frame.file).has(frame.file)) components.push(component.sort());
      }
    }
  };
  for (const file of files) if (!state.has(file)) visit(file);
  return components;
}

/** The shortest cycle from `start` back to itself within `members` (breadth first). */
function shortestCycle(start, members) {
  const previous = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift();
    for (const target of graph.get(file).keys()) {
      if (!members.has(target)) continue;
      if (target === start) {
        const path = [file];
        for (let at = previous.get(file); at !== null; at = previous.get(at)) path.unshift(at);
        return [...path, start];
      }
      if (!previous.has(target)) {
        previous.set(target, file);
        queue.push(target);
      }
    }
  }
  return null;
}

/** One shortest cycle through each member, each cycle listed once. */
function cyclesOf(component) {
  const members = new Set(component);
  const seen = new Set();
  const cycles = [];
  for (const file of component) {
    const cycle = shortestCycle(file, members);
    if (!cycle) continue;
    const ring = cycle.slice(0, -1);
    const key = [...ring].sort().join("|") + `#${ring.length}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const edges = ring.map((from, i) => graph.get(from).get(cycle[i + 1]));
    cycles.push({ files: cycle.map(rel), edges });
  }
  return cycles;
}

const cycles = cyclicComponents().flatMap(cyclesOf);
const findings = { files: files.length, cycles, coreEscapes, unresolved };

if (process.argv.includes("--json")) {
  console.log(JSON.stringify(findings, null, 2));
} else {
  const lines = [`check-imports: ${files.length} files under src/`];
  const label = (kind) => kind === "value" ? "→" : `→(${kind})`;
  lines.push(cycles.length === 0 ? "import cycles: none" : `import cycles (${cycles.length}):`);
  for (const { files: path, edges } of cycles) {
    const text = path.map((file, i) => i === 0 ? file : `${label(edges[i - 1])} ${file}`).join(" ");
    const kinds = new Set(edges);
    lines.push(`  ${text}${kinds.size === 1 && kinds.has("type-only") ? "   [types only]" : ""}`);
  }
  lines.push(coreEscapes.length === 0 ? "src/core importing outside src/core: none" : `src/core importing outside src/core (${coreEscapes.length}):`);
  for (const { file, target, kind } of coreEscapes) lines.push(`  ${file} ${label(kind)} ${target}`);
  if (unresolved.length > 0) {
    lines.push(`relative imports naming no file (${unresolved.length}):`);
    for (const { file, spec } of unresolved) lines.push(`  ${file}: "${spec}"`);
  }
  console.log(lines.join("\n"));
}
process.exitCode = cycles.length + coreEscapes.length + unresolved.length > 0 ? 1 : 0;
