// Renders the broker's figures in the Prometheus text exposition format (version 0.0.4):
// every metric documented in docs/metrics.md. RocketMQ 5's metric names and labels are used
// where RocketMQ has the metric (so its dashboards and alert rules carry over); the rest are
// tidemq_*. Latencies are exposed in seconds, sizes in bytes.
#pragma once

#include <string>

#include "broker/core/admin_service.h"
#include "broker/core/broker_core.h"

namespace tidemq::console {

inline constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// routes: the cluster's routes in a cluster of broker groups (nullptr outside one).
std::string RenderMetrics(const broker::MetricsReport& report,
                          const broker::ReplicationStatus& replication,
                          const broker::BrokerConfig& config,
                          const broker::RoutesInfo* routes = nullptr);

// `s` escaped as a label value (backslash, double quote and newline).
std::string EscapeLabelValue(std::string_view s);

}  // namespace tidemq::console
