import { Template } from 'aws-cdk-lib/assertions';
import { pipelineApp } from './pipeline-app';

/** The processing settings of the CDK context reach the Glue job the stack deploys. */
function jobArguments(context: Record<string, unknown>): Record<string, string> {
  const { stack } = pipelineApp(context);
  const jobs = Object.values(Template.fromStack(stack).findResources('AWS::Glue::Job'));
  expect(jobs).toHaveLength(1);
  return jobs[0].Properties.DefaultArguments as Record<string, string>;
}

describe('processing settings in the deployed Glue job', () => {
  test('glueLookbackDays becomes the job\'s --lookback_days; without it the job looks at the whole raw zone', () => {
    expect(jobArguments({ glueLookbackDays: '14', sessionGapMinutes: '45' })).toMatchObject({ '--lookback_days': '14', '--session_gap_minutes': '45' });
    const defaults = jobArguments({});
    expect(defaults).not.toHaveProperty('--lookback_days');
    expect(defaults).toMatchObject({ '--session_gap_minutes': '30' });
  });
});
