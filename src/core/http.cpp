#include "greentune/core/http.hpp"

#include <curl/curl.h>

#include <memory>

#include "greentune/core/error.hpp"

namespace greentune {

namespace {

size_t append_body(char* data, size_t size, size_t count, void* body) {
  static_cast<std::string*>(body)->append(data, size * count);
  return size * count;
}

// libcurl's global setup, once per process before the first handle (curl_easy_init would do it too, but not
// thread-safely with older libcurls).
void initialize_curl_once() {
  static const CURLcode initialized = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (initialized != CURLE_OK)
    throw Error(ErrorCode::internal, "libcurl", curl_easy_strerror(initialized), "please report this");
}

}  // namespace

HttpResponse http_request(const HttpRequest& request) {
  initialize_curl_once();
  const std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> handle(curl_easy_init(), &curl_easy_cleanup);
  if (!handle)
    throw Error(ErrorCode::internal, "libcurl", "cannot create a transfer handle", "please report this");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr, &curl_slist_free_all);
  for (const std::string& line : request.headers) {
    curl_slist* extended = curl_slist_append(headers.get(), line.c_str());
    if (extended == nullptr)
      throw Error(ErrorCode::internal, "libcurl", "cannot allocate a header list", "please report this");
    static_cast<void>(headers.release());  // now owned by extended, its new head
    headers.reset(extended);
  }
  HttpResponse response;
  char error[CURL_ERROR_SIZE] = "";
  CURL* curl = handle.get();
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM, safe in threads
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, request.timeout_ms);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "greentune/0.1");
  if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  const CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) {
    response.error = error[0] != '\0' ? error : curl_easy_strerror(code);
    return response;
  }
  response.completed = true;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace greentune
