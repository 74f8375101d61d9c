#include "test_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
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
