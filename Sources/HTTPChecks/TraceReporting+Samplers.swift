import Sampling

// Both keep their last runs' redacted traces for the status page's /trace view.
extension HTTPCheckSampler: TraceReporting {}
extension ScenarioSampler: TraceReporting {}
