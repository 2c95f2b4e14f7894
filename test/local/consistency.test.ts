/**
 * findInconsistencies: which combinations of what the engines hold a run refuses (one engine lost
 * its data or was reset on its own) and which it accepts (empty, consistent, or what a crash
 * between two stages leaves, which the next run finishes).
 */
import { findInconsistencies, InconsistentStateError, type EngineState } from '../../local/pipeline';
import { settingsFromEnv } from '../../local/resources';

const settings = {
  ...settingsFromEnv({}),
  topic: 'clicks',
  consumerGroup: 'clicks-ingest',
  rawBucket: 'raw',
  aggregatesBucket: 'agg',
  aliasPrefix: 'served',
};

/** Everything after a complete run: topic consumed, raw zone, aggregates with the job's state, documents. */
const complete: EngineState = {
  topicExists: true,
  consumedMessages: 2000,
  offsetsBeyondEnd: [],
  rawBeyondEnd: [],
  raw: 'data',
  aggregates: 'data',
  jobState: true,
  documents: 900,
};

const empty: EngineState = {
  topicExists: false,
  consumedMessages: 0,
  offsetsBeyondEnd: [],
  rawBeyondEnd: [],
  raw: 'missing',
  aggregates: 'missing',
  jobState: false,
  documents: 0,
};

describe('findInconsistencies', () => {
  it.each<[string, EngineState]>([
    ['nothing anywhere (first run)', empty],
    ['empty buckets and an unused topic (after --reset)', { ...empty, topicExists: true, raw: 'empty', aggregates: 'empty' }],
    ['a complete run', complete],
    ['a batch written but not committed (crash during ingest)', { ...empty, topicExists: true, raw: 'data', aggregates: 'empty' }],
    ['raw data not aggregated yet (crash before the job)', { ...complete, aggregates: 'empty', jobState: false, documents: 0 }],
    ['aggregates not indexed yet (crash before the indexer)', { ...complete, documents: 0 }],
    ['the job wrote its output but not its state', { ...complete, jobState: false }],
  ])('accepts %s', (_, state) => {
    expect(findInconsistencies(state, settings)).toEqual([]);
  });

  it('refuses a consumer group that consumed messages the raw bucket does not have (S3 lost its data)', () => {
    const problems = findInconsistencies({ ...complete, raw: 'missing', aggregates: 'missing', jobState: false, documents: 0 }, settings);
    expect(problems).toEqual([expect.stringMatching(/^Kafka: consumer group clicks-ingest has consumed 2,000 messages of topic clicks, but the raw bucket raw does not exist/)]);
  });

  it('names every engine that does not fit when S3 alone was emptied', () => {
    const problems = findInconsistencies({ ...complete, raw: 'empty', aggregates: 'empty', jobState: false }, settings);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/raw bucket raw is empty: those messages will not be read again/);
    expect(problems[1]).toMatch(/^OpenSearch: the alias served-url-country-daily holds 900 documents, but the aggregates bucket agg is empty/);
  });

  it('refuses committed offsets beyond the end of the topic (the topic was created again)', () => {
    const problems = findInconsistencies({ ...complete, offsetsBeyondEnd: [0, 2] }, settings);
    expect(problems).toEqual([expect.stringMatching(/committed offsets beyond the end of topic clicks \(partitions 0, 2\)/)]);
  });

  it('refuses raw data at offsets the topic does not have (Kafka lost its data, the group with it)', () => {
    const problems = findInconsistencies({ ...complete, consumedMessages: 0, rawBeyondEnd: [1] }, settings);
    expect(problems).toEqual([expect.stringMatching(/^Kafka: the raw bucket raw holds messages of topic clicks \(partitions 1\) at offsets the topic does not have/)]);
  });

  it('refuses raw data of a topic that does not exist', () => {
    const problems = findInconsistencies({ ...complete, topicExists: false, consumedMessages: 0 }, settings);
    expect(problems).toEqual([expect.stringMatching(/the raw bucket raw holds events, but the topic clicks does not exist/)]);
  });

  it("refuses the Spark job's state or aggregates without a raw zone", () => {
    expect(findInconsistencies({ ...empty, aggregates: 'empty', jobState: true }, settings)).toEqual([
      expect.stringMatching(/aggregates bucket agg holds the Spark job's state, but the raw bucket raw does not exist/),
    ]);
    expect(findInconsistencies({ ...empty, raw: 'empty', aggregates: 'data' }, settings)).toEqual([
      expect.stringMatching(/aggregates bucket agg holds aggregates, but the raw bucket raw is empty/),
    ]);
  });

  it('refuses documents without aggregates (the aggregates bucket was emptied)', () => {
    const problems = findInconsistencies({ ...complete, aggregates: 'missing', jobState: false }, settings);
    expect(problems).toEqual([expect.stringMatching(/alias served-url-country-daily holds 900 documents, but the aggregates bucket agg does not exist/)]);
  });

  it('builds an error that lists the problems and the --reset command', () => {
    const error = new InconsistentStateError(['first problem', 'second problem']);
    expect(error.message).toMatch(/does not fit together:\n {2}- first problem\n {2}- second problem\n/);
    expect(error.message).toMatch(/npm run local -- --reset/);
  });
});
