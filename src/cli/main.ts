// The `conveyor` command, runtime-agnostic: the entry scripts (bin/conveyor.mjs on Node and Bun,
// cli.ts on Deno) hand it the arguments, the environment and where to write.
import * as v from "valibot";
import { systemClock } from "../core/clock.ts";
import { summarise, check } from "../core/validation.ts";
import type { CliIo, Command } from "./command.ts";
import { backupCommand, restoreCommand } from "./backup.ts";
import { healthCommand } from "./health.ts";
import { mintToken, SCOPES, TokenOptionsSchema } from "./token.ts";

export type { CliIo } from "./command.ts";

const COMMANDS: Record<string, Command> = {
  health: healthCommand,
  backup: backupCommand,
  restore: restoreCommand,
  token: {
    summary: "print a development JWT for the HTTP app",
    values: ["secret", "scopes", "subject", "expires", "issuer", "audience"],
    usage: [
      "conveyor token --scopes <list> [--secret <s>] [--subject <sub>] [--expires <1h>] [--issuer <iss>] [--audience <aud>]",
      "",
      "  --secret    the app's HS256 secret (or the CONVEYOR_AUTH_SECRET environment variable)",
      `  --scopes    comma-separated: ${SCOPES.join(", ")}; jobs:read:<queue> and jobs:write:<queue> for one queue`,
      "  --subject   who the token names (recorded as createdBy / changedBy)  [default: developer]",
      "  --expires   lifetime: 30m, 1h, 7d …                                    [default: 1h]",
      "  --issuer, --audience   when the app checks them",
      "",
      'Prints only the token, so: TOKEN=$(conveyor token --scopes admin)',
    ].join("\n"),
    async run(args, io) {
      const input = {
        secret: args.get("secret") ?? (io.env.CONVEYOR_AUTH_SECRET || undefined),
        scopes: (args.get("scopes") ?? "").split(/[,\s]+/).filter(Boolean),
        subject: args.get("subject") ?? "developer",
        expires: args.get("expires") ?? "1h",
        issuer: args.get("issuer"),
        audience: args.get("audience"),
      };
      if (input.secret === undefined) {
        io.err("conveyor token: needs the app's HS256 secret: --secret <secret>, or set CONVEYOR_AUTH_SECRET");
        return 2;
      }
      const result = check(TokenOptionsSchema, input, "token options");
      if (!result.ok) {
        io.err(`conveyor token: ${summarise(result.issues)}\n(conveyor token --help for the flags)`);
        return 2;
      }
      io.out(await mintToken(result.value as v.InferOutput<typeof TokenOptionsSchema>, io.clock ?? systemClock));
      return 0;
    },
  },
};

function help(): string {
  return ["conveyor <command> [flags]", "", ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`), "", "conveyor <command> --help for its flags"].join("\n");
}

/** Runs one command line; resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    io.out(help());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`conveyor: no command "${name}"\n\n${help()}`);
    return 2;
  }
  const args = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const match = /^--([a-z]+)(?:=(.*))?$/.exec(rest[i]!);
    const flag = match?.[1] ?? "";
    const isSwitch = command.switches?.includes(flag) ?? false;
    if (!match || !(flag === "help" || isSwitch || command.values.includes(flag))) {
      io.err(`conveyor ${name}: unknown argument "${rest[i]}"\n\n${command.usage}`);
      return 2;
    }
    if (flag === "help") {
      io.out(command.usage);
      return 0;
    }
    if (isSwitch) {
      if (match[2] !== undefined) {
        io.err(`conveyor ${name}: --${flag} takes no value`);
        return 2;
      }
      args.set(flag, "true");
      continue;
    }
    const value = match[2] ?? rest[++i];
    if (value === undefined) {
      io.err(`conveyor ${name}: --${match[1]} needs a value`);
      return 2;
    }
    args.set(match[1]!, value);
  }
  return await command.run(args, io);
}
