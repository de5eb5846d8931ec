// What the core costs a user: the Quick start bundled (esbuild, minified, gzipped), and the time
// and memory to import each entry point on Node (from dist/, as installed).
//
//   npm run bench:size            (run `npm run build` first)
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
const readme = readFileSync(`${root}README.md`, "utf8");
const section = readme.slice(readme.indexOf("## Quick start"));
const start = section.indexOf("```ts\n") + 6;
const quickStart = section.slice(start, section.indexOf("\n```", start));

const bundle = await build({
  stdin: { contents: quickStart, resolveDir: root, loader: "ts" },
  alias: { "@conveyorkit/conveyor": `${root}mod.ts` },
  bundle: true, format: "esm", platform: "neutral", mainFields: ["module", "main"], minify: true, write: false, metafile: true,
});
const code = bundle.outputFiles[0]!.contents;
const packages = [...new Set(Object.keys(bundle.metafile.inputs).filter((p) => p.includes("node_modules/"))
  .map((p) => p.split("node_modules/").pop()!.split("/")[0]))].sort();

function importCost(specifier: string): { ms: number; rssMb: number } {
  const script = `const t = performance.now(); await import(${JSON.stringify(specifier)}); ` +
    `console.log(JSON.stringify({ ms: performance.now() - t, rssMb: process.memoryUsage().rss / 2 ** 20 }));`;
  const runs = Array.from({ length: 5 }, () => {
    const out = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8" });
    return JSON.parse(out.stdout.trim()) as { ms: number; rssMb: number };
  }).sort((a, b) => a.ms - b.ms);
  return runs[2]!;
}

console.log(`Quick start bundle: ${(code.length / 1024).toFixed(1)} KiB minified, ${(gzipSync(code).length / 1024).toFixed(1)} KiB gzipped; packages: ${packages.join(", ")}`);
console.log("\nentry (dist/)          import ms (median of 5)   RSS MB after import");
for (const [name, file] of [["(node, nothing)", "node:os"], ["core", "./dist/mod.js"], ["/redis", "./dist/redis.js"], ["/http", "./dist/http.js"], ["/broadcast", "./dist/broadcast.js"]]) {
  const { ms, rssMb } = importCost(file!);
  console.log(`${name!.padEnd(22)} ${ms.toFixed(1).padStart(8)}                  ${rssMb.toFixed(1).padStart(6)}`);
}
