#include "greentune/energy/metering_options.hpp"

namespace greentune::energy {

namespace {

OptionTable<MeteringOptions> make_metering_options() {
  using M = MeteringOptions;
  OptionTable<M> table;
  table.push_back(text_option<M>(
      "country", [](auto& o) -> auto& { return o.carbon.country; },
      "Country of the electricity grid, ISO 3166 alpha-3 (FRA, USA, ...); default: world average"));
  table.push_back(text_option<M>(
      "region", [](auto& o) -> auto& { return o.carbon.region; },
      "US state, Canadian province or Nordic zone within --country"));
  table.push_back(text_option<M>(
      "cloud-provider", [](auto& o) -> auto& { return o.carbon.cloud_provider; }, "gcp, aws or azure"));
  table.push_back(text_option<M>(
      "cloud-region", [](auto& o) -> auto& { return o.carbon.cloud_region; },
      "Cloud region, e.g. us-central1 or aws:us-east-1"));
  table.push_back(number_option<M>(
      "carbon-intensity", [](auto& o) -> auto& { return o.carbon.gco2_per_kwh; }, at_least(0),
      "gCO2e/kWh to use instead of the table's"));
  table.push_back(number_option<M>(
      "pue", [](auto& o) -> auto& { return o.pue; }, from_to(1, 5),
      "Power usage effectiveness of the data centre"));
  // The interval is a std::chrono::milliseconds: read and written as its count.
  Option<M> interval{.name = "interval-ms", .help = "Energy sampling interval in milliseconds"};
  interval.type_name = "INT";
  const Range interval_range = whole_from_to(1, 60000);
  interval.set = [interval_range, flag = interval.flag()](M& options,
                                                          std::span<const std::string> arguments) {
    options.interval = std::chrono::milliseconds(
        static_cast<int64_t>(interval_range.parse(flag, option_detail::single(flag, arguments))));
  };
  interval.get = [](const M& options) { return nlohmann::json(options.interval.count()); };
  interval.check = [interval_range, flag = interval.flag()](const M& options) {
    interval_range.check(flag, static_cast<double>(options.interval.count()));
  };
  table.push_back(std::move(interval));
  table.push_back(text_option<M>(
      "prometheus-pushgateway", [](auto& o) -> auto& { return o.pushgateway_url; },
      "Push energy, power, CO2 and progress to this Prometheus Pushgateway while running "
      "(e.g. http://localhost:9091)"));
  return table;
}

}  // namespace

const OptionTable<MeteringOptions>& metering_options() {
  static const OptionTable<MeteringOptions> table = make_metering_options();
  return table;
}

}  // namespace greentune::energy
