import ExporterConfig
import Exposition

/// The declared dependency model as series, so that rules can join a dependency's outage to
/// the services that need it (`services:` in the config; nothing inferred from names).
enum ServiceMetrics {
    static func families(_ config: Configuration) -> [MetricFamily] {
        guard !config.services.isEmpty else { return [] }
        return [
            .gauge("mitra_service_info", "A metric with a constant '1' value for each service declared under services:.",
                   config.services.map { Series([Label(serviceLabelName, $0.name)], 1) }),
            .gauge("mitra_service_dependency",
                   "A metric with a constant '1' value for each service and each service it depends on, directly or through others.",
                   config.serviceDependencies.map { Series([Label(serviceLabelName, $0.service), Label("depends_on", $0.dependsOn)], 1) }),
        ]
    }
}
