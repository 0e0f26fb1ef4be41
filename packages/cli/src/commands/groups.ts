import type { Command } from 'commander';
import { CLI_ACTOR } from '@otpgate/core';
import { withAdmin, type GlobalOptions } from '../context.js';
import { printJson, table } from '../output.js';
import { attrOption, attributesValue } from './options.js';

export function registerGroupCommands(program: Command, globals: () => GlobalOptions): void {
  const group = program.command('group').description('manage groups and their reply attributes');

  group
    .command('add <name>')
    .description('create a group')
    .option('--description <text>', 'a note for admins')
    .addOption(attrOption())
    .action(async (name: string, o: { description?: string; attr?: string[] }) => {
      await withAdmin(globals(), ({ services }) => {
        services.groups.add({ name, description: o.description, attributes: attributesValue(o.attr) }, CLI_ACTOR);
        console.log(`group ${name} created`);
      });
    });

  group
    .command('set <name>')
    .description('change a group\'s description or replace its reply attributes')
    .option('--description <text>', 'a note for admins')
    .addOption(attrOption())
    .option('--no-attrs', 'remove every reply attribute')
    .action(async (name: string, o: { description?: string; attr?: string[]; attrs?: false }) => {
      await withAdmin(globals(), ({ services }) => {
        services.groups.update(name, { description: o.description, attributes: o.attrs === false ? [] : attributesValue(o.attr) }, CLI_ACTOR);
        console.log(`group ${name} updated`);
      });
    });

  group
    .command('list')
    .description('list groups')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      await withAdmin(globals(), ({ services }) => {
        const list = services.groups.list();
        if (o.json) return printJson(list);
        console.log(table(['GROUP', 'ATTRIBUTES', 'DESCRIPTION'], list.map((g) => [g.name, g.attributes.map((a) => `${a.name}=${a.value}`).join(', ') || '-', g.description])));
      });
    });

  group
    .command('remove <name>')
    .description('delete a group (members stay, without it)')
    .action(async (name: string) => {
      await withAdmin(globals(), ({ services }) => {
        services.groups.remove(name, CLI_ACTOR);
        console.log(`group ${name} removed`);
      });
    });
}
