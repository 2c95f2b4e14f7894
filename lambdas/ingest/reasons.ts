/**
 * The stable, machine-readable reasons a Kafka message is quarantined instead of stored.
 * They are part of the raw zone's contract (quarantine lines carry them, metrics are keyed by
 * them, docs/ingest.md lists them): add new ones, never rename or reuse one.
 */
export const REJECTION_REASONS = [
  /** The record has no value at all (a Kafka tombstone). */
  'null_value',
  /** The value's bytes are not valid UTF-8. */
  'invalid_utf8',
  /** The value is UTF-8 but not JSON. */
  'invalid_json',
  /** The value is JSON but not an object (array, string, number, null, ...). */
  'not_an_object',
  /** Neither `user_id` nor `userId` is present (or both are null). */
  'missing_user_id',
  /** The user id is not a string, or is empty / only whitespace. */
  'bad_user_id',
  /** Neither `timestamp` nor `ts` is present (or both are null). */
  'missing_timestamp',
  /** The timestamp is neither ISO-8601 with a zone nor integer epoch milliseconds, or names an impossible instant. */
  'bad_timestamp',
  /** The timestamp is before 2000-01-01T00:00:00Z. */
  'timestamp_too_old',
  /** The timestamp is more than 24 h after the Kafka record's own timestamp. */
  'timestamp_in_future',
  /** The timestamp is older than the deployment's maximum event age, measured from the function's
   *  clock (`MAX_EVENT_AGE_DAYS`; set below the raw zone's expiry, docs/operations.md "Data safety"). */
  'timestamp_older_than_max_age',
  /** `url` is not present (or null). */
  'missing_url',
  /** `url` is not a string, or not an absolute http(s) URL with a host. */
  'bad_url',
  /** A field is longer than its limit; the quarantine line names the field. */
  'too_large',
  /** An optional field has the wrong JSON type; the quarantine line names the field. */
  'bad_field_type',
] as const;

export type RejectionReason = (typeof REJECTION_REASONS)[number];
