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
  table.push_back(choice_option<M>(
      "carbon-source", [](auto& o) -> auto& { return o.carbon.source; }, parse_intensity_source,
      [](IntensitySource source) { return to_string(source); }, "table|electricitymaps",
      "Where the carbon intensity comes from: CodeCarbon's offline table, or Electricity Maps' live figures "
      "(token in $ELECTRICITYMAPS_API_TOKEN), sampled over the run and averaged by energy"));
  table.push_back(text_option<M>(
      "carbon-zone", [](auto& o) -> auto& { return o.carbon.live_zone; },
      "Electricity Maps zone (e.g. US-CAL-CISO); default: the zone of --country/--region"));
  table.push_back(not_changing_result(duration_option<M>(
      "carbon-sample-s", [](auto& o) -> auto& { return o.carbon.live_sample_interval; },
      whole_from_to(1, 86400),
      "Seconds between live carbon-intensity samples (--carbon-source electricitymaps)")));
  table.push_back(number_option<M>(
      "pue", [](auto& o) -> auto& { return o.pue; }, from_to(1, 5),
      "Power usage effectiveness of the data centre"));
  table.push_back(not_changing_result(duration_option<M>(
      "interval-ms", [](auto& o) -> auto& { return o.interval; }, whole_from_to(1, 60000),
      "Energy sampling interval in milliseconds")));
  table.push_back(not_changing_result(text_option<M>(
      "prometheus-pushgateway", [](auto& o) -> auto& { return o.pushgateway_url; },
      "Push energy, power, CO2 and progress to this Prometheus Pushgateway while running "
      "(e.g. http://localhost:9091)")));
  return table;
}

}  // namespace

const OptionTable<MeteringOptions>& metering_options() {
  static const OptionTable<MeteringOptions> table = make_metering_options();
  return table;
}

}  // namespace greentune::energy
