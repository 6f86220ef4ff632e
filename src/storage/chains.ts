/** `a → b → c`, shortened in the middle when long: how both engines name a refused cycle. */
export function describeChain(keys: string[]): string {
  const shown = keys.length > 12 ? [...keys.slice(0, 6), `… ${keys.length - 11} more …`, ...keys.slice(-5)] : keys;
  return shown.join(' → ');
}
