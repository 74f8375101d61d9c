#include "greentune/energy/pushgateway.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <string_view>
#include <vector>

#include "greentune/core/http.hpp"
#include "greentune/core/log.hpp"

namespace greentune::energy {

namespace {

constexpr long kPushTimeoutMs = 5000;

// RFC 4648's base64url without padding, as the Pushgateway reads "label@base64/value".
std::string base64url(std::string_view text) {
  std::vector<unsigned char> encoded(4 * ((text.size() + 2) / 3) + 1);
  const int length = EVP_EncodeBlock(encoded.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                     static_cast<int>(text.size()));
  std::string url_safe(reinterpret_cast<const char*>(encoded.data()), static_cast<size_t>(length));
  for (char& c : url_safe)
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!url_safe.empty() && url_safe.back() == '=')
    url_safe.pop_back();
  return url_safe.empty() ? "=" : url_safe;  // the Pushgateway's spelling of an empty value
}

void add_gauge(std::string& text, std::string_view name, std::string_view help,
               const std::vector<std::pair<std::string, double>>& series) {
  text += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
  for (const auto& [labels, value] : series)
    text += fmt::format("{}{} {}\n", name, labels, value);
}

}  // namespace

std::string run_label_of(const std::filesystem::path& run_dir) {
  std::filesystem::path absolute = std::filesystem::absolute(run_dir).lexically_normal();
  if (absolute.filename().empty())
    absolute = absolute.parent_path();
  return absolute.filename().string();
}

std::string push_path(const PushGroup& group) {
  return fmt::format("/metrics/job/{}/instance@base64/{}/run@base64/{}/rank/{}", group.job,
                     base64url(group.instance), base64url(group.run), group.rank);
}

std::string exposition_text(const PushSample& sample, double power_w) {
  std::string text;
  add_gauge(text, "greentune_energy_joules",
            "Energy this process has measured so far, per component (total: all of them, PUE applied)",
            {{"{component=\"gpu\"}", sample.gpu_j},
             {"{component=\"cpu\"}", sample.cpu_j},
             {"{component=\"dram\"}", sample.dram_j},
             {"{component=\"ram\"}", sample.ram_j},
             {"{component=\"total\"}", sample.total_j}});
  add_gauge(text, "greentune_power_watts", "Average power since the previous push (total, PUE applied)",
            {{"", power_w}});
  add_gauge(text, "greentune_co2_grams", "CO2-equivalent emissions of that energy so far",
            {{"", sample.co2_kg * 1000.0}});
  add_gauge(text, "greentune_duration_seconds", "Time measured so far", {{"", sample.duration_s}});
  if (sample.step)
    add_gauge(text, "greentune_step", "Optimizer updates made", {{"", static_cast<double>(*sample.step)}});
  if (sample.total_steps) {
    add_gauge(text, "greentune_total_steps", "Optimizer updates the run will make",
              {{"", static_cast<double>(*sample.total_steps)}});
  }
  if (sample.step && sample.total_steps && *sample.total_steps > 0) {
    add_gauge(text, "greentune_progress_ratio", "step / total_steps",
              {{"", static_cast<double>(*sample.step) / static_cast<double>(*sample.total_steps)}});
  }
  if (sample.samples) {
    add_gauge(text, "greentune_samples", "Examples trained on so far, every rank's",
              {{"", static_cast<double>(*sample.samples)}});
  }
  return text;
}

Pushgateway::Pushgateway(std::string url, PushGroup group) {
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  group_url_ = url + push_path(group);
  worker_ = std::thread([this] { run_worker(); });
}

Pushgateway::~Pushgateway() {
  stop_worker();
}

void Pushgateway::push(const PushSample& sample) {
  {
    const std::lock_guard lock(mutex_);
    queued_ = sample;
  }
  wake_.notify_one();
}

void Pushgateway::sample_every(std::chrono::milliseconds interval, std::function<PushSample()> sample) {
  {
    const std::lock_guard lock(mutex_);
    interval_ = interval;
    source_ = std::move(sample);
    reconfigured_ = true;
  }
  wake_.notify_one();
}

void Pushgateway::stop_sampling() {
  const std::lock_guard lock(mutex_);  // the worker calls source_ with mutex_ held
  source_ = nullptr;
}

void Pushgateway::push_final(const PushSample& sample) {
  stop_worker();
  send(sample);
}

void Pushgateway::stop_worker() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
    source_ = nullptr;
  }
  wake_.notify_one();
  if (worker_.joinable())
    worker_.join();
}

void Pushgateway::run_worker() {
  std::unique_lock lock(mutex_);
  while (true) {
    const auto ready = [this] { return stopping_ || queued_.has_value() || reconfigured_; };
    bool timed_out = false;
    if (source_)
      timed_out = !wake_.wait_for(lock, interval_, ready);
    else
      wake_.wait(lock, ready);
    reconfigured_ = false;
    std::optional<PushSample> sample;
    if (queued_) {
      sample = std::exchange(queued_, std::nullopt);
    } else if (timed_out && source_) {
      sample = source_();
    } else if (stopping_) {
      return;
    }
    if (!sample)
      continue;
    lock.unlock();
    send(*sample);
    lock.lock();
  }
}

void Pushgateway::send(const PushSample& sample) {
  const double since_s = sample.duration_s - (previous_ ? previous_->duration_s : 0.0);
  const double power_w =
      since_s > 0.0 ? (sample.total_j - (previous_ ? previous_->total_j : 0.0)) / since_s : 0.0;
  HttpRequest request;
  request.method = "PUT";
  request.url = group_url_;
  request.headers = {"Content-Type: text/plain; version=0.0.4"};
  request.body = exposition_text(sample, power_w);
  request.timeout_ms = kPushTimeoutMs;
  const HttpResponse response = http_request(request);
  previous_ = sample;
  if (response.completed && response.status >= 200 && response.status < 300)
    return;
  if (!warned_) {
    warned_ = true;
    const std::string what = response.completed
                                 ? fmt::format("HTTP {}: {}", response.status, response.body.substr(0, 200))
                                 : response.error;
    log::warn(
        fmt::format("--prometheus-pushgateway: cannot push to {}: {}; the run goes on, and later pushes "
                    "are tried (is the Pushgateway running at that URL?)",
                    group_url_, what));
  }
}

}  // namespace greentune::energy
