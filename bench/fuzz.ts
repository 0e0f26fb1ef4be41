import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { prepareFuzzNode, type FuzzFixture } from './fuzz-fixture.js';
import { formatReport, runFuzz } from './fuzz-session.js';

/**
 * The RADIUS fuzzer's driver, run by bench/fuzz.sh:
 *   node fuzz.js prepare CLI CONFIG FIXTURE   set up a node's clients and users with its `otpgate` command (CLI is
 *                                            packages/cli/dist/main.js), and write what the fuzzer must know
 *   node fuzz.js run --port P --pid PID --fixture FIXTURE [--datagrams 1000000] [--rate 3000] [--seed S] [--out DIR]
 *                                            fuzz the node serving RADIUS on 127.0.0.1:P as process PID
 * Prints the figures; exits 1 when the property failed (the first problem is printed, the last datagrams and the
 * counterexample are in DIR).
 */
function otpgate(cli: string, config: string) {
  return (args: string[], input?: string) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [cli, '-c', config, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`otpgate ${args.join(' ')} exited ${code}: ${err || out}`))));
      child.stdin.end(input ?? '');
    });
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'prepare' && rest.length === 3) {
    const [cli, config, fixture] = rest as [string, string, string];
    writeFileSync(fixture, JSON.stringify(await prepareFuzzNode(otpgate(cli, config)), null, 2));
    return;
  }
  if (command === 'run') {
    const { values } = parseArgs({
      args: rest,
      options: {
        port: { type: 'string' },
        pid: { type: 'string' },
        fixture: { type: 'string' },
        datagrams: { type: 'string', default: '1000000' },
        rate: { type: 'string', default: '3000' },
        seed: { type: 'string' },
        out: { type: 'string' },
      },
    });
    if (!values.port || !values.pid || !values.fixture) throw new Error('run needs --port, --pid and --fixture');
    const report = await runFuzz(
      {
        port: Number(values.port),
        pid: Number(values.pid),
        fixture: JSON.parse(readFileSync(values.fixture, 'utf8')) as FuzzFixture,
        rate: Number(values.rate),
        dumpDir: values.out,
      },
      { datagrams: Number(values.datagrams), seed: values.seed === undefined ? undefined : Number(values.seed) },
    );
    console.log(formatReport(report));
    if (values.out) writeFileSync(`${values.out}/fuzz-report.json`, JSON.stringify(report, null, 2));
    if (report.failure || report.crashed || report.statusServer || report.wrongAnswers.length > 0 || report.badAnswers.length > 0) process.exitCode = 1;
    return;
  }
  throw new Error('usage: fuzz.js prepare CLI CONFIG FIXTURE | fuzz.js run --port P --pid PID --fixture FILE [--datagrams N] [--rate R] [--seed S] [--out DIR]');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 2;
});
