import Exposition
import ExporterConfig
import Foundation
import Logging
@testable import PostgresCollectors
import Sampling
import Testing
import TestSupport

/// `services:` labels an instance's series with its service, and a query listed under
/// another service (an audit table of the API's traffic) with that one instead.
@Suite(.enabled(if: SharedCluster.available, "MITRA_TEST_PG_* not set: run scripts/pg-test-cluster.sh"))
struct ServiceLabelTests {
    let cluster = SharedCluster.current!

    @Test func instanceAndQueriesCarryTheirService() async throws {
        let text = """
        postgres:
          - name: testdb
            dsn: "${env:TEST_DSN}"
            collectors: [database]
            queries:
              - name: api_requests
                sql: SELECT 'GET' AS method, 3 AS n
                metrics: [{name: test_api_requests, type: gauge, labels: [method], value: n}]
              - name: policies
                sql: SELECT 7 AS n
                metrics: [{name: test_policies, type: gauge, value: n}]
        services:
          - name: api
            queries: [testdb/api_requests]
            depends_on: [db]
          - name: db
            postgres: [testdb]
        """
        let config = try ConfigLoader.parse(text, file: "services.yml", resolver: SecretResolver(environment: ["TEST_DSN": cluster.keyValue()]))
        let sampler = PostgresSampler(config: config.postgres[0], logger: LogRecorder().logger)
        let result = await sampler.sample()
        await sampler.shutdown()
        #expect(series(result, "pg_up").map(\.labels) == [[Label("instance_name", "testdb"), Label("service", "db")]])
        #expect(series(result, "test_api_requests").map(\.labels)
                == [[Label("instance_name", "testdb"), Label("service", "api"), Label("method", "GET")]])
        #expect(series(result, "test_policies").map(\.labels) == [[Label("instance_name", "testdb"), Label("service", "db")]])
    }
}
