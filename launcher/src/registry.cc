#include "hs/launcher/registry.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "hs/common/endpoint_set.h"
#include "hs/common/file.h"
#include "hs/common/http.h"

namespace hs::launcher {

using json = nlohmann::json;

namespace {

using Entries = std::vector<endpoint_set::Entry>;

// Runs `edit` on the file's endpoint set under an exclusive lock and writes the result back.
Status locked_edit(const std::string& file, const std::function<void(Entries&)>& edit) {
  std::string lock_path = file + ".lock";
  int fd = ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0)
    return unavailable(std::string("cannot open lock: ") + std::strerror(errno), lock_path);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }  // closing releases the flock
  } closer{fd};
  if (::flock(fd, LOCK_EX) != 0)
    return unavailable(std::string("cannot lock: ") + std::strerror(errno), lock_path);
  Entries list;
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) {
    auto text = read_file(file);
    if (!text.ok()) return text.error();
    auto parsed = endpoint_set::parse(*text, file);
    if (!parsed.ok()) return invalid_argument(parsed.error().message + "; not touching it", file);
    list = std::move(*parsed);
  }
  edit(list);
  return write_file_atomic(file, endpoint_set::to_json(list));
}

}  // namespace

Status register_instance(const std::string& file, const Registration& r) {
  auto role = parse_role(r.role);
  if (!role.ok()) return role.error().with_context("role");
  return locked_edit(file, [&](Entries& list) {
    endpoint_set::Entry e;
    e.url = r.url;
    e.role = *role;
    e.group = r.group;
    e.service = r.service;
    e.gpu_type = r.gpu_type;
    e.job_id = r.job_id;
    e.array_task_id = r.array_task_id;
    for (auto& x : list)
      if (x.url == r.url) {
        x = e;
        return;
      }
    list.push_back(e);
  });
}

Status set_draining(const std::string& file, const std::string& url) {
  return locked_edit(file, [&](Entries& list) {
    for (auto& x : list)
      if (x.url == url) x.draining = true;
  });
}

Status heartbeat(const std::string& file, const std::string& url, double unix_seconds) {
  return locked_edit(file, [&](Entries& list) {
    for (auto& x : list)
      if (x.url == url) x.heartbeat_unix_s = unix_seconds;
  });
}

Status deregister_instance(const std::string& file, const std::string& url) {
  return locked_edit(file, [&](Entries& list) {
    std::erase_if(list, [&](const endpoint_set::Entry& x) { return x.url == url; });
  });
}

}  // namespace hs::launcher

namespace hs::launcher {

namespace {

class FileRegistry final : public Registry {
 public:
  explicit FileRegistry(std::string path) : path_(std::move(path)) {}
  Status add(const Registration& r) override { return register_instance(path_, r); }
  Status heartbeat(const std::string& url, double t) override {
    return launcher::heartbeat(path_, url, t);
  }
  Status draining(const std::string& url) override { return set_draining(path_, url); }
  Status remove(const std::string& url) override { return deregister_instance(path_, url); }

 private:
  std::string path_;
};

class ScalerRegistry final : public Registry {
 public:
  ScalerRegistry(http::Url base, std::string token) : base_(std::move(base)) {
    opts_.timeout = std::chrono::seconds(5);
    if (!token.empty()) opts_.headers.push_back({"Authorization", "Bearer " + token});
  }
  Status add(const Registration& r) override {
    last_ = r;
    auto role = parse_role(r.role);
    if (!role.ok()) return role.error().with_context("role");
    endpoint_set::RegistrationBody b{r.url,    *role,           r.service, r.group,
                                     r.job_id, r.array_task_id, r.gpu_type};
    return post("/hs/register", endpoint_set::to_json(b));
  }
  Status heartbeat(const std::string& url, double) override {
    auto st = post("/hs/heartbeat", nlohmann::json{{"url", url}}.dump());
    if (!st.ok() && st.error().code == ErrorCode::kNotFound && last_.url == url) return add(last_);
    return st;
  }
  Status draining(const std::string& url) override {
    return post("/hs/draining", nlohmann::json{{"url", url}}.dump());
  }
  Status remove(const std::string& url) override {
    return post("/hs/deregister", nlohmann::json{{"url", url}}.dump());
  }

 private:
  Status post(const std::string& path, const std::string& body) {
    auto r = http::request(base_.host, base_.port, "POST", path, body, opts_);
    if (!r.ok()) return r.error();
    if (r->status == 404) return not_found(r->body, "heteroscaled" + path);
    if (r->status >= 500)  // starting, overloaded or behind a proxy: try again
      return unavailable("HTTP " + std::to_string(r->status) + ": " + r->body,
                         "heteroscaled" + path);
    if (r->status != 200)
      return failed_precondition("HTTP " + std::to_string(r->status) + ": " + r->body,
                                 "heteroscaled" + path);
    return {};
  }
  http::Url base_;
  http::ClientOptions opts_;
  Registration last_;
};

}  // namespace

std::unique_ptr<Registry> file_registry(const std::string& path) {
  return std::make_unique<FileRegistry>(path);
}

std::unique_ptr<Registry> scaler_registry(const std::string& base_url, const std::string& token) {
  auto u = http::parse_url(base_url);
  return std::make_unique<ScalerRegistry>(u.ok() ? *u : http::Url{}, token);
}

}  // namespace hs::launcher
