/**
 * The privacy key (SPEC §6, docs/privacy.md): one secret in AWS Secrets Manager whose value the
 * stack has Secrets Manager generate at deploy time (GenerateSecretString), so it is never in the
 * template, the code or the repository. Encrypted with its own customer managed KMS key.
 *
 * The key is the HMAC-SHA-256 key of pseudonymous user IDs (`pseudonymizeUserIds`) and of the
 * keyed hashes in the erasure record. Readers: the ingest function (pseudonyms, the erasure
 * rule) and the Glue job in erasure mode (to match stored clear IDs against the keyed hashes);
 * the operator's `npm run erase` reads it with the operator's own credentials.
 */
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/** Characters of the generated key (letters and digits: 64 of them carry about 380 bits). */
export const PRIVACY_KEY_LENGTH = 64;

export interface PrivacyKeyProps {
  /** Name of the secret.
   *  @default `<stack name>/privacy-key` */
  readonly secretName?: string;
  /** What happens to the secret and its KMS key when the stack is deleted. Losing the key changes
   *  every pseudonym and makes the erasure record unmatchable, so the default keeps it.
   *  @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

export class PrivacyKey extends Construct {
  /** The secret holding the key (SecretString). */
  public readonly secret: secretsmanager.Secret;
  /** The KMS key that encrypts the secret. */
  public readonly encryptionKey: kms.Key;

  constructor(scope: Construct, id: string, props: PrivacyKeyProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.encryptionKey = new kms.Key(this, 'EncryptionKey', {
      description: 'Encrypts the clickstream pipeline privacy key (pseudonyms, erasure record)',
      enableKeyRotation: true,
      removalPolicy,
    });
    this.secret = new secretsmanager.Secret(this, 'Secret', {
      secretName: props.secretName ?? `${Stack.of(this).stackName}/privacy-key`,
      description: 'HMAC-SHA-256 key of pseudonymous user IDs and of the erasure record (docs/privacy.md); never log or copy it',
      encryptionKey: this.encryptionKey,
      generateSecretString: { passwordLength: PRIVACY_KEY_LENGTH, excludePunctuation: true, includeSpace: false },
      removalPolicy,
    });
  }

  /** GetSecretValue on this secret (and Decrypt through Secrets Manager on its key). */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.secret.grantRead(grantee);
  }
}
