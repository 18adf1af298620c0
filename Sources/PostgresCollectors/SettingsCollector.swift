import Exposition
import ExporterConfig
import Foundation
import PostgresClient

/// Numeric and boolean server settings as `pg_settings_<name>`, named and scaled as
/// postgres_exporter does (times in `_seconds`, sizes in `_bytes`, booleans 1/0, -1 kept as
/// "disabled"), so its dashboards and alerts find them. A fixed list, not all ~250
/// settings: those that capacity, vacuum, checkpoint and timeout panels and alerts use, and
/// the same on every supported version.
struct SettingsCollector: PostgresCollector {
    let kind = PostgresCollectorKind.settings

    static let names: [String] = [
        "max_connections", "superuser_reserved_connections", "max_locks_per_transaction", "max_prepared_transactions",
        "max_worker_processes", "max_parallel_workers", "max_parallel_workers_per_gather", "max_wal_senders",
        "max_replication_slots", "shared_buffers", "effective_cache_size", "work_mem", "maintenance_work_mem",
        "wal_buffers", "max_wal_size", "min_wal_size", "wal_segment_size", "block_size", "checkpoint_timeout",
        "checkpoint_completion_target", "autovacuum", "autovacuum_max_workers", "autovacuum_naptime",
        "autovacuum_vacuum_threshold", "autovacuum_vacuum_scale_factor", "autovacuum_analyze_threshold",
        "autovacuum_analyze_scale_factor", "autovacuum_freeze_max_age", "statement_timeout", "lock_timeout",
        "idle_in_transaction_session_timeout", "max_standby_streaming_delay", "max_standby_archive_delay",
        "random_page_cost", "seq_page_cost", "effective_io_concurrency", "default_statistics_target",
        "track_counts", "track_io_timing", "fsync", "hot_standby",
    ]

    func collect(_ session: CollectorSession, into set: inout MetricSet) async throws(CollectorFailure) {
        let result = try await session.query("""
            SELECT name, setting, coalesce(unit, '') AS unit, vartype
            FROM pg_settings
            WHERE name = ANY($1::text[]) AND vartype IN ('bool', 'integer', 'real')
            ORDER BY name
            """, [Self.names.postgresArrayLiteral])
        for row in result.namedRows {
            guard let setting = Self.metric(name: row.string("name"), setting: row.string("setting"),
                                            unit: row.string("unit"), type: row.string("vartype"))
            else { continue }
            let family = set.gauge(setting.name, setting.help)
            set.add(family, [], setting.value)
        }
    }

    /// The exported name and value of one setting; nil for a unit this exporter does not know
    /// (a setting is then left out rather than exported in the wrong unit).
    static func metric(name: String, setting: String, unit: String, type: String) -> (name: String, help: String, value: Double)? {
        let base = "pg_settings_" + name.replacingOccurrences(of: ".", with: "_").replacingOccurrences(of: "-", with: "_")
        let help = "Server setting \(name)"
        if type == "bool" { return (base, help + " (1 on, 0 off).", setting == "on" ? 1 : 0) }
        guard let number = Double(setting) else { return nil }
        guard !unit.isEmpty else { return (base, help + ".", number) }
        guard let (suffix, factor) = scale(unit) else { return nil }
        return (base + "_" + suffix, help + ", converted to \(suffix) (-1: disabled).", number == -1 ? -1 : number * factor)
    }

    /// pg_settings units: times (ms, s, min, h, d) and sizes as an optional count of a
    /// power-of-two unit (B, kB, 8kB, 16MB ...).
    static func scale(_ unit: String) -> (suffix: String, factor: Double)? {
        switch unit {
        case "ms": return ("seconds", 0.001)
        case "s": return ("seconds", 1)
        case "min": return ("seconds", 60)
        case "h": return ("seconds", 3600)
        case "d": return ("seconds", 86_400)
        default: break
        }
        let digits = unit.prefix { $0.isNumber }
        let count = digits.isEmpty ? 1 : Double(digits) ?? 0
        let power: Double
        switch unit.dropFirst(digits.count) {
        case "B": power = 1
        case "kB": power = 1024
        case "MB": power = 1024 * 1024
        case "GB": power = 1024 * 1024 * 1024
        case "TB": power = 1024 * 1024 * 1024 * 1024
        default: return nil
        }
        return count > 0 ? ("bytes", count * power) : nil
    }
}
