// OpenSSL 3 (libssl + libcrypto). Function-like macros are not imported by Swift;
// call the functions they expand to (e.g. SSL_CTX_ctrl) from Swift.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/pem.h>
#include <openssl/evp.h>
