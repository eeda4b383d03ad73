// fast-check model-based commands that compare the model with its reference after every step: a named
// command (the name is what a shrunk counterexample prints) whose run is followed by `check`.
import type fc from 'fast-check';

export function checkedCommands<M extends object, R>(check: (m: M, r: R) => void) {
  return (name: string, pre: (m: M) => boolean, run: (m: M, r: R) => void): fc.Command<M, R> => ({
    check: pre,
    run(m, r) {
      run(m, r);
      check(m, r);
    },
    toString: () => name,
  });
}
