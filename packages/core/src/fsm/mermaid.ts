import type { MachineJSON } from './types.js';

/**
 * A machine as a Mermaid state diagram (https://mermaid.js.org/syntax/stateDiagram.html):
 * `[*] --> initial`, one edge per (from, event) labelled by the event (`[guarded]` when it has a
 * guard), `final --> [*]`. Edges are grouped by the state they leave, in the order of `states`,
 * then of `events`, so the text is stable and diffs well.
 */
export function renderMermaid(machine: MachineJSON): string {
  const lines = ['stateDiagram-v2', `    [*] --> ${machine.initial}`];
  const events = Object.entries(machine.events);
  for (const state of machine.states) {
    for (const [name, event] of events) {
      if (event.from.includes(state)) lines.push(`    ${state} --> ${event.to}: ${name}${event.guarded ? ' [guarded]' : ''}`);
    }
  }
  for (const state of machine.final) lines.push(`    ${state} --> [*]`);
  return `${lines.join('\n')}\n`;
}
