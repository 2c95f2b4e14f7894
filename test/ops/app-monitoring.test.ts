import { Match, Template } from 'aws-cdk-lib/assertions';
import { pipelineApp } from './pipeline-app';

/**
 * The app as deployed is watched: PipelineMonitoring (lib/monitoring.ts) is wired into the stack
 * with the real functions, queues, job and domain. Its alarms themselves are tested in
 * monitoring.test.ts with stand-ins; this checks they watch the real resources.
 */
describe('the deployed app is monitored', () => {
  const { stack } = pipelineApp({ alarmEmail: 'ops@example.com' });
  const template = Template.fromStack(stack);

  test('has the encrypted alarm topic with the configured e-mail subscription', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  test('has the health dashboard and the Glue failure rule', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ source: ['aws.glue'], detail: Match.objectLike({ state: ['FAILED', 'TIMEOUT', 'ERROR'] }) }),
    });
  });

  test('alarms watch the real ingest and indexer functions, queues and search domain', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => JSON.stringify(a.Properties));
    const watching = (metric: string, logicalIdPart: RegExp) =>
      alarms.some((a) => a.includes(`"MetricName":"${metric}"`) && logicalIdPart.test(a));
    expect(watching('OffsetLag', /Ingest/)).toBe(true);
    expect(watching('Errors', /Indexer/)).toBe(true);
    expect(watching('ApproximateAgeOfOldestMessage', /Indexing/)).toBe(true);
    expect(watching('ApproximateNumberOfMessagesVisible', /DeadLetter/)).toBe(true);
    expect(watching('ClusterStatus.red', /ClientId/)).toBe(true);
  });
});
