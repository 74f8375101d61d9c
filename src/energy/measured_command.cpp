#include "greentune/energy/measured_command.hpp"

#include "greentune/core/files.hpp"
#include "greentune/core/log.hpp"
#include "greentune/energy/meter.hpp"
#include "greentune/energy/pushgateway.hpp"

namespace greentune::energy {

namespace {

constexpr std::chrono::seconds kPushInterval{5};  // between pushes while the command runs

}  // namespace

MeasuredCommand measure_command(const std::vector<std::string>& command, const MeteringOptions& options,
                                const std::filesystem::path& output_dir, const RunIdentity& identity,
                                const ChildOptions& child) {
  greentune::create_directories(output_dir, "pass an output directory that can be written");
  Metering metering = start_metering(options);
  for (const std::string& note : metering.notes)
    log::info(note);
  MeasuredCommand measured;
  metering.meter->begin("run");
  std::optional<Pushgateway> pushgateway;
  if (!options.pushgateway_url.empty()) {
    pushgateway.emplace(
        options.pushgateway_url,
        PushGroup{.instance = host_name(),
                  .run = identity.experiment_id.empty() ? run_label_of(output_dir) : identity.experiment_id});
    pushgateway->sample_every(kPushInterval, [&] { return push_sample_of(metering.meter->peek("run")); });
  }
  measured.exit = run_child(command, child);
  if (pushgateway)
    pushgateway->stop_sampling();
  measured.run = metering.meter->end("run");
  if (pushgateway)
    pushgateway->push_final(push_sample_of(measured.run));
  measured.machine = metering.machine;
  measured.carbon = applied_to(metering.carbon_now(), measured.run.co2_kg, measured.run.kwh);
  measured.notes = metering.notes;
  measured.counter_failures = metering.meter->failures();
  if (!measured.exit.started)
    return measured;  // nothing ran: no row, no energy.json, as if it had not been asked
  measured.row = make_emissions_row(measured.run, metering.machine, measured.carbon, identity);
  append_emissions_row(output_dir / "emissions.csv", measured.row);
  const nlohmann::json report = {{"command", command},
                                 {"exit_status", measured.exit.exit_status},
                                 {"run_id", measured.row.run_id},
                                 {"windows", {measured.run}},
                                 {"carbon", measured.carbon},
                                 {"notes", measured.notes},
                                 {"counter_failures", measured.counter_failures}};
  write_file_atomically(output_dir / "energy.json", report.dump(2) + "\n");
  return measured;
}

}  // namespace greentune::energy
