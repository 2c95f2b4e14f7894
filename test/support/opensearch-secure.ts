/**
 * The security-enabled local node (`opensearch-secure`) made to look like Amazon OpenSearch
 * Service where the provisioner relies on it.
 */
import type { Client } from '@opensearch-project/opensearch';
import { DASHBOARDS_USER_ROLE } from '../../lambdas/search-provisioner/security';

const ROLES = '/_plugins/_security/api/roles';

/**
 * `opensearch_dashboards_user` is a predefined role of Amazon OpenSearch Service; the open-source
 * plugin has no such role (its Dashboards user role is `kibana_user`). A node without it gets one
 * under the AWS name with kibana_user's permissions, so the provisioner's mapping has a role to
 * land on. What the AWS role itself grants is AWS's, and not proven here. `admin` is the node's
 * admin; a failed request throws.
 */
export async function ensureDashboardsUserRole(admin: Client): Promise<void> {
  const role = `${ROLES}/${DASHBOARDS_USER_ROLE}`;
  if ((await admin.transport.request({ method: 'GET', path: role }, { ignore: [404] })).statusCode !== 404) return;
  const kibanaUser = ((await admin.transport.request({ method: 'GET', path: `${ROLES}/kibana_user` })).body as Record<string, Record<string, unknown>>).kibana_user;
  await admin.transport.request({
    method: 'PUT',
    path: role,
    body: {
      description: 'Local stand-in for the AWS predefined role (permissions of kibana_user)',
      cluster_permissions: kibanaUser.cluster_permissions,
      index_permissions: kibanaUser.index_permissions,
      tenant_permissions: kibanaUser.tenant_permissions,
    },
  });
}
