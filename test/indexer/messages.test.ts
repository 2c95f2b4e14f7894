import { malformedReportKey, objectsOfMessage } from '../../lambdas/indexer/core';
import { s3EventNotification } from '../../local/s3-notifier';

describe('objectsOfMessage', () => {
  it('reads bucket and URL-decoded key of an S3 notification', () => {
    const body = JSON.stringify({
      Records: [
        {
          eventSource: 'aws:s3',
          eventName: 'ObjectCreated:CompleteMultipartUpload',
          s3: { bucket: { name: 'agg' }, object: { key: 'aggregates/url_country_daily/event_date%3D2026-11-01/part+00000%2Bx.json' } },
        },
      ],
    });
    expect(objectsOfMessage(body)).toEqual([{ bucket: 'agg', key: 'aggregates/url_country_daily/event_date=2026-11-01/part 00000+x.json' }]);
  });

  it('round-trips the local notifier\'s notification', () => {
    const key = 'aggregates/url_country_daily/event_date=2026-11-01/part-00000-a b+c.c000.json';
    expect(objectsOfMessage(s3EventNotification('agg', key, 'eu-west-1'))).toEqual([{ bucket: 'agg', key }]);
  });

  it('names nothing for the test event S3 sends when the notification is configured', () => {
    expect(objectsOfMessage(JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'agg' }))).toEqual([]);
  });

  it('skips records that are not creations', () => {
    const body = JSON.stringify({ Records: [{ eventSource: 'aws:s3', eventName: 'ObjectRemoved:Delete', s3: { bucket: { name: 'a' }, object: { key: 'k' } } }] });
    expect(objectsOfMessage(body)).toEqual([]);
  });

  it.each([
    ['not json', /not JSON/],
    ['{"hello":1}', /not an S3 event notification/],
    [JSON.stringify({ Records: [{ eventSource: 'aws:sns' }] }), /expected aws:s3/],
    [JSON.stringify({ Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: {} } }] }), /without bucket name/],
  ])('rejects %s', (body, reason) => {
    expect(() => objectsOfMessage(body)).toThrow(reason);
  });
});

describe('malformedReportKey', () => {
  it('mirrors the part file below the errors prefix', () => {
    expect(malformedReportKey('errors/url_country_daily/', 'aggregates/url_country_daily/', 'aggregates/url_country_daily/event_date=2026-11-01/part-1.json')).toBe(
      'errors/url_country_daily/event_date=2026-11-01/part-1.json.malformed.ndjson',
    );
  });
});
