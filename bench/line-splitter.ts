/** Calls `onLine` with each whole line of a child's output as its chunks come (the last, unfinished one waits). */
export function lineSplitter(onLine: (text: string) => void): (chunk: Buffer) => void {
  let buffered = '';
  return (chunk) => {
    buffered += chunk.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      onLine(text);
    }
  };
}
