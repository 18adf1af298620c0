import ExporterConfig
import Exposition

extension SQLQueryConfig {
    /// The labels of this query's series before its own columns: the instance's, with the
    /// query's own service (`services[].queries`) in place of the instance's. An audit table
    /// read from the database describes the API's traffic, not the database's health.
    func constantLabels(instanceLabels: [Label]) -> [Label] {
        guard let service else { return instanceLabels }
        return instanceLabels.filter { $0.name != serviceLabelName } + [Label(serviceLabelName, service)]
    }
}
