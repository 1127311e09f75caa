/**
 * Shell completion scripts (`runlet completion bash|zsh|fish`), written from the command
 * definitions themselves, so a new command or flag completes without editing a script.
 * They complete verbs, subcommands and flags; function names are not looked up.
 */
import type { CommandDefinition } from "./command.js";

export const shells = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof shells)[number];

/** The flags every client command has (main.ts adds them). */
const clientFlags = ["--gateway", "--token"];

interface Entry {
  /** "deploy" or "secret create". */
  readonly words: readonly string[];
  readonly description: string;
  /** Long and short flags, e.g. "--file", "-f". */
  readonly flags: readonly string[];
}

function entries(commands: readonly CommandDefinition[]): Entry[] {
  return commands.map((definition) => ({
    words: definition.name.split(" "),
    description: definition.description,
    flags: [
      ...(definition.options ?? []).flatMap((option) =>
        option.flags.split(/[ ,|]+/).filter((part) => part.startsWith("-")),
      ),
      ...(definition.client ? clientFlags : []),
      ...(definition.json ? ["--json"] : []),
      "--help",
    ],
  }));
}

/** Single-quoted for the shell. */
function quoted(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function bash(list: readonly Entry[]): string {
  const top = [...new Set(list.map((entry) => entry.words[0] ?? ""))];
  const subcommands = new Map<string, string[]>();
  for (const entry of list) {
    const [group, sub] = entry.words;
    // "function key create" and "function key list" give group "function" one "key".
    if (group && sub && !(subcommands.get(group) ?? []).includes(sub)) {
      subcommands.set(group, [...(subcommands.get(group) ?? []), sub]);
    }
  }
  const cases = list
    .map((entry) => {
      const key = entry.words.join(" ");
      const words = [
        ...entry.flags,
        ...(entry.words.length === 1 ? (subcommands.get(key) ?? []) : []),
      ];
      return `    ${quoted(key)}) words=${quoted(words.join(" "))} ;;`;
    })
    .join("\n");
  // A group with no command of its own (`runlet secret`) completes its subcommands.
  const groupCases = [...subcommands]
    .filter(([group]) => !list.some((entry) => entry.words.join(" ") === group))
    .map(
      ([group, subs]) => `    ${quoted(group)}) words=${quoted([...subs, "--help"].join(" "))} ;;`,
    )
    .join("\n");
  return `# runlet completion for bash: source <(runlet completion bash)
_runlet() {
  local cur=\${COMP_WORDS[COMP_CWORD]} key="" words="" i
  local groups=${quoted([...subcommands.keys()].join(" "))}
  for ((i = 1; i < COMP_CWORD; i++)); do
    case \${COMP_WORDS[i]} in -*) continue ;; esac
    if [[ -z $key ]]; then
      key=\${COMP_WORDS[i]}
    elif [[ " $groups " == *" $key "* && $key != *" "* ]]; then
      key="$key \${COMP_WORDS[i]}"
      break
    else
      break
    fi
  done
  if [[ -z $key ]]; then
    words=${quoted([...top, "--help", "--version"].join(" "))}
  else
    case $key in
${cases}
${groupCases}
    esac
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
  if [[ \${#COMPREPLY[@]} -eq 0 && $cur != -* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o default -F _runlet runlet
`;
}

function zsh(list: readonly Entry[]): string {
  return `#compdef runlet
# runlet completion for zsh: source <(runlet completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bash(list).replace(/^# runlet completion for bash.*\n/, "")}`;
}

function fish(list: readonly Entry[]): string {
  const out = ["# runlet completion for fish: runlet completion fish | source"];
  const groups = new Set(list.filter((e) => e.words.length === 2).map((e) => e.words[0]));
  const seen = new Set<string>();
  for (const entry of list) {
    const [first, second] = entry.words;
    if (!first) {
      continue;
    }
    if (!seen.has(first)) {
      seen.add(first);
      const description = entry.words.length === 1 ? entry.description : `${first} commands`;
      out.push(
        `complete -c runlet -n __fish_use_subcommand -f -a ${quoted(first)} -d ${quoted(description)}`,
      );
    }
    if (second) {
      out.push(
        `complete -c runlet -n ${quoted(`__fish_seen_subcommand_from ${first}`)} -f -a ${quoted(second)} -d ${quoted(entry.description)}`,
      );
    }
    const condition =
      second || !groups.has(first)
        ? `__fish_seen_subcommand_from ${second ?? first}`
        : `__fish_seen_subcommand_from ${first}`;
    for (const flag of entry.flags) {
      const option = flag.startsWith("--") ? `-l ${flag.slice(2)}` : `-s ${flag.slice(1)}`;
      out.push(`complete -c runlet -n ${quoted(condition)} ${option}`);
    }
  }
  return `${[...new Set(out)].join("\n")}\n`;
}

export function completionScript(shell: Shell, commands: readonly CommandDefinition[]): string {
  const list = entries(commands);
  return shell === "bash" ? bash(list) : shell === "zsh" ? zsh(list) : fish(list);
}
