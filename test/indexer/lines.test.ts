import { readLines } from '../../lambdas/indexer/lines';

async function collect(chunks: Array<string | Buffer>, max?: number) {
  async function* source() {
    for (const chunk of chunks) yield chunk;
  }
  const lines = [];
  for await (const line of readLines(source(), max)) lines.push(line);
  return lines;
}

describe('readLines', () => {
  it('numbers lines across chunk boundaries and keeps a last line without newline', async () => {
    const lines = await collect([Buffer.from('{"a":1}\n{"b"'), Buffer.from(':2}\n\n{"c":3}')]);
    expect(lines).toEqual([
      { number: 1, text: '{"a":1}' },
      { number: 2, text: '{"b":2}' },
      { number: 3, text: '' },
      { number: 4, text: '{"c":3}' },
    ]);
  });

  it('decodes a multi-byte character split between chunks', async () => {
    const bytes = Buffer.from('{"country":"Österreich €"}\n', 'utf8');
    const splitAt = bytes.indexOf(0xe2) + 1; // inside the three bytes of the euro sign
    const lines = await collect([bytes.subarray(0, splitAt), bytes.subarray(splitAt)]);
    expect(lines).toEqual([{ number: 1, text: '{"country":"Österreich €"}' }]);
  });

  it('strips the carriage return of CRLF endings', async () => {
    expect(await collect([Buffer.from('x\r\ny\r\n')])).toEqual([
      { number: 1, text: 'x' },
      { number: 2, text: 'y' },
    ]);
  });

  it('reports an over-long line once, keeps its head, and goes on with the next line', async () => {
    const long = 'z'.repeat(5000);
    const lines = await collect([Buffer.from('ok\n' + long.slice(0, 2500)), Buffer.from(long.slice(2500)), Buffer.from('\nnext\n')], 1000);
    expect(lines.map((l) => [l.number, l.tooLong ?? false, l.text.length])).toEqual([
      [1, false, 2],
      [2, true, 1024],
      [3, false, 4],
    ]);
  });

  it('reports an over-long last line without newline', async () => {
    const lines = await collect([Buffer.from('a\n' + 'b'.repeat(3000))], 1000);
    expect(lines[1]).toMatchObject({ number: 2, tooLong: true });
  });
});
