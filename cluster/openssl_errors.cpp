// OpenSSL's error queue is per thread, and SSL_get_error() reports
// SSL_ERROR_SSL when anything is left in it, whichever connection left it
// there. OpenSSL's rule is therefore to empty the queue before every TLS I/O
// call; CAF 0.17's caf_openssl does not. All its sessions run on the
// middleman's one thread, so a single failed handshake (a node or client
// without TLS, a port scanner) leaves an error behind and the next read of
// every healthy connection fails: measured here, a plain node retrying
// against a TLS coordinator dropped an established node's connection about
// every second. These definitions interpose on the TLS I/O calls of the
// process (the executable's symbols come first in the dynamic linker's
// lookup, also for calls from libcaf_openssl.so), empty the queue, and call
// libssl's own function. Calls from other users of libssl (librdkafka) get
// the same treatment, which is what OpenSSL asks of them anyway.
#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>

#include "cluster/transport.hpp"

namespace {

// libssl's definition of `name` (the next one after ours).
template <typename Fn>
Fn next_definition(const char* name) {
  void* symbol = ::dlsym(RTLD_NEXT, name);
  Fn fn = nullptr;
  static_assert(sizeof fn == sizeof symbol, "function and object pointers differ in size");
  std::memcpy(&fn, &symbol, sizeof fn);
  return fn;
}

}  // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static const auto next = next_definition<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return next(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static const auto next = next_definition<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return next(ssl, buf, num);
}

int SSL_accept(SSL* ssl) {
  static const auto next = next_definition<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return next(ssl);
}

int SSL_connect(SSL* ssl) {
  static const auto next = next_definition<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return next(ssl);
}

int SSL_do_handshake(SSL* ssl) {
  static const auto next = next_definition<int (*)(SSL*)>("SSL_do_handshake");
  ERR_clear_error();
  return next(ssl);
}

}  // extern "C"

namespace rivulet::cluster {

bool openssl_error_queue_guard() { return true; }

}  // namespace rivulet::cluster
