// The end of a run: the test split evaluated once, the model saved in Hugging Face layout, and rank 0's
// RunResult (result.json) and emissions row from what every rank measured.
#include <fmt/format.h>
#include <sys/resource.h>

#include "checkpoint.hpp"
#include "greentune/core/files.hpp"
#include "greentune/core/log.hpp"
#include "greentune/core/process_memory.hpp"
#include "greentune/model/pretrained.hpp"
#include "trainer_phases.hpp"

namespace greentune::train {

namespace {

// This run's peak resident memory: since the Trainer reset it, else the process's.
double run_peak_memory_mb() {
  if (const std::optional<double> peak = peak_memory_mb())
    return *peak;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports kilobytes
}

}  // namespace

// Rank 0: what every rank measured (reports, one per rank) in result, and the run's energy.json and
// emissions row.
void Trainer::add_ranks_energy(RunResult& result, const std::vector<std::string>& reports) {
  std::vector<RankEnergy> rank_energies;
  std::vector<RankSummary> ranks;
  result.energy_methods = nlohmann::json::object();
  for (const std::string& text : reports) {
    const auto report = nlohmann::json::parse(text);
    const RankEnergy& energy = rank_energies.emplace_back(report.at("energy").get<RankEnergy>());
    const RankSummary& rank = ranks.emplace_back(RankSummary{
        energy.rank, energy.host, report.at("threads").get<int>(), report.at("peak_memory_mb").get<double>(),
        report.at("peak_tensor_memory_mb").get<double>(), energy.totals.kwh(), energy.methods});
    result.peak_memory_mb = std::max(result.peak_memory_mb, rank.peak_memory_mb);
    result.peak_tensor_memory_mb = std::max(result.peak_tensor_memory_mb, rank.peak_tensor_memory_mb);
    for (const auto& [component, method] : energy.methods.items())
      energy::add_method(result.energy_methods, component, method.get<std::string>());
  }
  if (world_ > 1)
    result.ranks = ranks;
  const energy::CarbonIntensity carbon = run_energy_->carbon();
  const EnergyTotals energy =
      write_run_energy(options_.output, options_.output.filename().string(), run_energy_->earlier(),
                       rank_energies, carbon, options_.metering.pue);
  result.energy_kwh = energy.kwh();
  result.gpu_kwh = energy.gpu_j / energy::kJoulesPerKwh;
  result.cpu_kwh = energy.cpu_j / energy::kJoulesPerKwh;
  result.dram_kwh = energy.dram_j / energy::kJoulesPerKwh;
  result.ram_kwh = energy.ram_j / energy::kJoulesPerKwh;
  result.eval_kwh = energy.eval_j / energy::kJoulesPerKwh;
  result.co2_kg = energy.co2_kg;
  result.average_w = energy.average_w();
  result.joules_per_sample =
      state_.trained_samples == 0 ? 0.0 : energy.total_j / static_cast<double>(state_.trained_samples);
  const energy::CarbonIntensity applied = energy::applied_to(carbon, energy.co2_kg, energy.kwh());
  result.carbon = {applied.gco2_per_kwh, applied.zone, applied.reason};
}

RunResult Trainer::finish() {
  RunResult result;
  result.accuracy = state_.final_eval.accuracy;
  result.f1 = state_.final_eval.macro_f1;
  result.eval_loss = state_.final_eval.eval_loss;
  result.n = state_.final_eval.n;
  result.best = {state_.best_step, state_.best};
  result.stop_reason = state_.stop_reason;
  result.train_seconds = state_.train_seconds + seconds_since(started_);
  result.steps = state_.step;
  result.skipped_steps = loss_scaler_ ? loss_scaler_->skipped_steps() : 0;
  result.train_samples = state_.trained_samples;  // every rank's, every epoch's
  result.padding_fraction = state_.padded_tokens == 0 ? 0.0
                                                      : 1.0 - static_cast<double>(state_.real_tokens) /
                                                                  static_cast<double>(state_.padded_tokens);
  if (state_.step_seconds > 0.0) {
    result.train_samples_per_s = static_cast<double>(state_.trained_samples) / state_.step_seconds;
    result.train_tokens_per_s = static_cast<double>(state_.trained_tokens) / state_.step_seconds;
  }
  result.peak_tensor_memory_mb = static_cast<double>(state_.peak_step_tensor_bytes) / kBytesPerMebibyte;
  result.checkpointing_memory = checkpointing_memory_;
  if (const data::TokenizedSplit* test_split = data_->test_split()) {
    run_energy_->begin_eval();  // the other ranks wait meanwhile, inside an evaluation window of their own
    if (root_) {
      result.test = evaluate_on(*test_split, data_->test_indices());
      result.test_accuracy = result.test->accuracy;
      log::info(fmt::format("test accuracy {:.4f} on {} examples", result.test->accuracy, result.test->n));
    }
    group_->barrier();
    run_energy_->end_eval();
  }
  if (root_)
    model::save_pretrained(options_.output / "model", *classifier_, *tokenizer_);
  result.energy_forecast =
      state_.forecast.from_steps > 0 ? std::optional<EnergyForecast>(state_.forecast) : std::nullopt;
  result.peak_memory_mb = run_peak_memory_mb();
  result.world_size = world_;
  result.threads = runtime_.threads;  // rank 0's intra-op threads (each rank's under "ranks")

  const RankEnergy my_energy = run_energy_->finish(rank_);
  if (pushgateway_) {
    EnergyTotals pushed = run_energy_->earlier();  // nothing but on rank 0 of a resumed run
    pushed += my_energy.totals;
    pushgateway_->push_final(push_sample(pushed));
  }
  // Rank 0 gathers what every rank measured and writes the run's one emissions row and result.
  const nlohmann::json my_report = {{"energy", my_energy},
                                    {"threads", runtime_.threads},
                                    {"peak_memory_mb", result.peak_memory_mb},
                                    {"peak_tensor_memory_mb", result.peak_tensor_memory_mb}};
  const std::vector<std::string> reports = group_->all_gather(my_report.dump());
  if (!root_)
    return result;  // what this rank measured itself
  add_ranks_energy(result, reports);
  result.config = resolved_;
  write_file_atomically(options_.output / kRunResultFile, nlohmann::json(result).dump(2) + "\n");
  if (options_.keep_checkpoints == KeepCheckpoints::none) {  // after result.json: the run is finished
    const uint64_t freed = remove_checkpoints(options_.output);
    log::info(fmt::format("--keep-checkpoints none: deleted the checkpoints ({:.1f} MB)", freed / 1e6));
  }
  return result;
}

}  // namespace greentune::train
