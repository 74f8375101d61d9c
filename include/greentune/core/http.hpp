#pragma once
// One HTTP request with libcurl, for small exchanges with services (a Prometheus Pushgateway, a carbon
// intensity API): the whole body in memory, no redirects followed, bounded by a timeout.

#include <string>
#include <vector>

namespace greentune {

struct HttpRequest {
  std::string method = "GET";        // GET, PUT, POST, DELETE
  std::string url;                   // http:// or https://
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  long timeout_ms = 5000;  // the whole exchange
};

struct HttpResponse {
  bool completed = false;  // false: no response (error says why)
  std::string error;       // libcurl's description: "Couldn't connect to server", ...
  long status = 0;         // the HTTP status code of a completed exchange
  std::string body;
};

// Never throws for network trouble (the response says it); Error(internal) if libcurl itself fails.
HttpResponse http_request(const HttpRequest& request);

}  // namespace greentune
