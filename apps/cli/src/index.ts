export async function main(argv: string[]): Promise<number> {
  process.stdout.write(`dynamite ${argv.join(' ')}\n`);
  return 0;
}
