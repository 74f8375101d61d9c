#include "test_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "greentune/core/http.hpp"
#include "greentune/core/tensorboard.hpp"

namespace greentune::testing {

namespace fs = std::filesystem;

fs::path test_data_dir() {
  return GREENTUNE_TEST_DATA_DIR;
}

std::optional<fs::path> shared_dir() {
  const char* from_env = std::getenv("GREENTUNE_SHARED_DIR");
  fs::path dir = (from_env != nullptr && *from_env != '\0') ? fs::path(from_env)
                                                            : fs::path(GREENTUNE_SHARED_DIR_DEFAULT);
  std::error_code ec;
  if (fs::is_directory(dir / "data", ec) || fs::is_directory(dir / "fixtures", ec)) {
    return fs::canonical(dir, ec);
  }
  return std::nullopt;
}

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  std::random_device random;
  path_ = fs::temp_directory_path() / ("greentune-test-" + std::to_string(::getpid()) + "-" +
                                       std::to_string(counter++) + "-" + std::to_string(random() % 100000));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

SmallDisk::SmallDisk(uint64_t capacity_bytes) {
  const std::string options = "size=" + std::to_string(capacity_bytes) + ",mode=0755";
  if (::mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, options.c_str()) == 0) {
    mounted_ = true;
  } else {
    why_not_ = std::string("cannot mount a small tmpfs for a full-disk test (") + std::strerror(errno) +
               "): run the tests as root to include it";
  }
}

SmallDisk::~SmallDisk() {
  if (mounted_)
    ::umount2(dir_.path().c_str(), MNT_DETACH);
}

void SmallDisk::resize(uint64_t capacity_bytes) {
  const std::string options = "size=" + std::to_string(capacity_bytes);
  if (::mount("tmpfs", dir_.path().c_str(), "tmpfs", MS_REMOUNT, options.c_str()) != 0)
    throw std::runtime_error("cannot resize " + dir_.path().string() + ": " + std::strerror(errno));
}

uint64_t SmallDisk::free_bytes() const {
  struct statvfs disk {};
  if (::statvfs(dir_.path().c_str(), &disk) != 0)
    throw std::runtime_error("statvfs " + dir_.path().string() + ": " + std::strerror(errno));
  return static_cast<uint64_t>(disk.f_bavail) * disk.f_frsize;
}

void SmallDisk::fill() {
  std::ofstream filler(dir_ / "filler", std::ios::binary | std::ios::app);
  const std::string block(4096, '\0');
  while (filler.write(block.data(), static_cast<std::streamsize>(block.size())) && filler.flush()) {
  }
  if (free_bytes() != 0)
    throw std::runtime_error("the filler left " + std::to_string(free_bytes()) + " bytes free");
}

void write_text(const fs::path& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
  if (!out) {
    throw std::runtime_error("cannot write " + path.string());
  }
}

void write_powercap(const std::filesystem::path& root) {
  for (const auto& [zone, name] :
       {std::pair{"intel-rapl:0", "package-0"}, std::pair{"intel-rapl:0/intel-rapl:0:0", "dram"}}) {
    std::filesystem::create_directories(root / zone);
    write_text(root / zone / "name", std::string(name) + "\n");
    write_text(root / zone / "energy_uj", "1000\n");
    write_text(root / zone / "max_energy_range_uj", "262143328850\n");
  }
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::vector<nlohmann::json> read_json_lines(const std::filesystem::path& path) {
  std::vector<nlohmann::json> rows;
  std::istringstream lines(read_text(path));
  for (std::string line; std::getline(lines, line);)
    rows.push_back(nlohmann::json::parse(line));
  return rows;
}

pid_t spawn_process(const std::vector<std::string>& argv,
                    const std::vector<std::pair<std::string, std::string>>& environment,
                    const std::filesystem::path& output) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> pointers;
    for (const auto& argument : argv)
      pointers.push_back(const_cast<char*>(argument.c_str()));
    pointers.push_back(nullptr);
    for (const auto& [name, value] : environment)
      setenv(name.c_str(), value.c_str(), 1);
    const std::string sink = output.empty() ? "/dev/null" : output.string();
    if (std::freopen(sink.c_str(), "w", stdout) == nullptr || dup2(fileno(stdout), fileno(stderr)) < 0)
      _exit(126);
    execv(pointers[0], pointers.data());
    _exit(127);
  }
  return pid;
}

pid_t spawn_quietly(const std::vector<std::string>& argv) {
  return spawn_process(argv);
}

int wait_for_exit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

std::optional<int> wait_for_exit_within(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid)
      return status;
    if (done < 0 && errno != EINTR)
      return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

int free_tcp_port() {
  const int socket_fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (socket_fd < 0 || bind(socket_fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(socket_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (socket_fd >= 0)
      close(socket_fd);
    return 0;
  }
  close(socket_fd);
  return ntohs(address.sin_port);
}

namespace {

uint32_t little_endian(std::string_view bytes, size_t count) {
  uint64_t value = 0;
  for (size_t i = 0; i < count; ++i)
    value |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  return static_cast<uint32_t>(value);
}

}  // namespace

std::vector<std::string> tfrecord_payloads(const fs::path& file) {
  const std::string bytes = read_text(file);
  std::vector<std::string> payloads;
  for (size_t at = 0; at < bytes.size();) {
    if (at + 12 > bytes.size()) {
      ADD_FAILURE() << file << ": a torn record header at byte " << at;
      break;
    }
    uint64_t length = 0;
    for (size_t i = 0; i < 8; ++i)
      length |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
    EXPECT_EQ(little_endian(bytes.substr(at + 8, 4), 4), tensorboard::masked_crc32c(bytes.substr(at, 8)));
    if (at + 12 + length + 4 > bytes.size()) {
      ADD_FAILURE() << file << ": a torn record at byte " << at;
      break;
    }
    const std::string payload = bytes.substr(at + 12, length);
    EXPECT_EQ(little_endian(bytes.substr(at + 12 + length, 4), 4), tensorboard::masked_crc32c(payload));
    payloads.push_back(payload);
    at += 12 + length + 4;
  }
  return payloads;
}

bool has_protoc() {
  return std::system("protoc --version >/dev/null 2>&1") == 0;
}

std::string decode_event(const std::string& payload) {
  TempDir dir;
  write_text(dir / "payload.bin", payload);
  const fs::path schema = test_data_dir() / "tensorboard";
  const std::string command = "protoc --proto_path='" + schema.string() + "' --decode=tensorflow.Event '" +
                              (schema / "event.proto").string() + "' < '" + (dir / "payload.bin").string() +
                              "' > '" + (dir / "decoded.txt").string() + "' 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0) << read_text(dir / "decoded.txt");
  return read_text(dir / "decoded.txt");
}

PushgatewayServer::PushgatewayServer() {
  const char* program = "/usr/bin/prometheus-pushgateway";
  if (!fs::exists(program)) {
    why_not_ = "no prometheus-pushgateway: run scripts/setup.sh (it installs Debian's package)";
    return;
  }
  port_ = free_tcp_port();
  pid_ = spawn_process({program, "--web.listen-address=127.0.0.1:" + std::to_string(port_)}, {},
                       dir_ / "pushgateway.log");
  for (int attempt = 0; attempt < 200; ++attempt) {
    HttpRequest probe;
    probe.url = url() + "/-/ready";
    probe.timeout_ms = 1000;
    const HttpResponse ready = http_request(probe);
    if (ready.completed && ready.status == 200)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "the Pushgateway did not get ready on port " << port_ << ": "
                << read_text(dir_ / "pushgateway.log");
}

PushgatewayServer::~PushgatewayServer() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    wait_for_exit(pid_);
  }
}

std::map<std::string, double> PushgatewayServer::samples(const std::string& metric) const {
  HttpRequest request;
  request.url = url() + "/metrics";
  const HttpResponse response = http_request(request);
  EXPECT_TRUE(response.completed && response.status == 200) << response.error << response.status;
  std::map<std::string, double> found;
  std::istringstream lines(response.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(metric + "{", 0) != 0)
      continue;
    const size_t close = line.rfind('}');
    found[line.substr(metric.size() + 1, close - metric.size() - 1)] = std::stod(line.substr(close + 2));
  }
  return found;
}

CommandResult run_cli(const std::string& arguments, const std::string& stdin_file,
                      const std::string& environment) {
  TempDir capture;
  const fs::path out_path = capture / "stdout";
  const fs::path err_path = capture / "stderr";
  std::string command = environment + " '" + GREENTUNE_CLI_PATH + "' " + arguments;
  command += stdin_file.empty() ? " </dev/null" : " <'" + stdin_file + "'";
  command += " >'" + out_path.string() + "' 2>'" + err_path.string() + "'";
  const int status = std::system(command.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_text(out_path);
  result.err = read_text(err_path);
  return result;
}

}  // namespace greentune::testing
