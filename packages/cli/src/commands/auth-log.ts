import { Option, type Command } from 'commander';
import { formatTime } from '@otpgate/shared';
import { withAdmin, type GlobalOptions } from '../context.js';
import { printJson, table } from '../output.js';
import { positiveInteger } from './options.js';

export function registerAuthLogCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('authlog')
    .description('recent authentications on this node: who, from which NAS, backend, result and reason')
    .option('--user <name>', 'only this user')
    .option('--client <name>', 'only this RADIUS client')
    .addOption(new Option('--result <result>', 'only this result').choices(['accept', 'reject', 'challenge', 'drop']))
    .option('--reason <reason>', 'only this reject reason')
    .option('--limit <n>', 'at most this many (newest first)', positiveInteger, 50)
    .option('--json', 'machine-readable output')
    .action(async (o: { user?: string; client?: string; result?: 'accept'; reason?: string; limit: number; json?: boolean }) => {
      await withAdmin(globals(), ({ services }) => {
        const rows = services.authLog.list({ user: o.user, client: o.client, result: o.result, reason: o.reason, limit: o.limit });
        if (o.json) return printJson(rows);
        console.log(
          table(
            ['TIME', 'USER', 'CLIENT', 'NAS-IP', 'CALLING-STATION', 'RESULT', 'REASON', 'BACKEND', 'MS'],
            rows.map((r) => [
              formatTime(r.at),
              r.username,
              r.client,
              r.nas_ip || null,
              r.calling_station || null,
              r.policy ? `${r.result} (${r.policy})` : r.result,
              r.reason,
              r.backend,
              (r.latency_us / 1000).toFixed(1),
            ]),
          ),
        );
      });
    });
}
