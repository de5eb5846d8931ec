// An empty project with the packed package installed, as a user gets it from npm: made once per
// package contents (a hash of dist/ and package.json) and reused by every runtime's test run.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = new URL("../..", import.meta.url).pathname;

function hashOf(dir: string, hash = createHash("sha256")): ReturnType<typeof createHash> {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) hashOf(path, hash);
    else hash.update(name).update(readFileSync(path));
  }
  return hash;
}

/** The project's folder; `npm test` builds dist/ before the tests run. */
export function consumerProject(): string {
  const hash = hashOf(join(ROOT, "bin"), hashOf(join(ROOT, "dist"))).update(readFileSync(join(ROOT, "package.json"))).digest("hex").slice(0, 16);
  const dir = join(tmpdir(), `conveyor-consumer-${hash}`);
  if (existsSync(join(dir, "ready"))) return dir;
  const building = `${dir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  // dist/ is fresh (npm test builds it first): pack without running the build again.
  const tarball = execFileSync("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", building], { cwd: ROOT, encoding: "utf8" })
    .trim().split("\n").pop()!;
  writeFileSync(join(building, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", `./${tarball}`, "valibot", "hono"], {
    cwd: building,
    stdio: "ignore",
  });
  writeFileSync(join(building, "ready"), "");
  rmSync(dir, { recursive: true, force: true });
  renameSync(building, dir);
  return dir;
}

/** The README's Quick start, verbatim: the first ```ts block under "## Quick start". */
export function quickStart(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Quick start"));
  return section.slice(section.indexOf("```ts\n") + 6, section.indexOf("\n```", section.indexOf("```ts\n") + 6)) + "\n";
}
