// libnghttp2 1.52: the project uses its ssize_t API (nghttp2_submit_response, nghttp2_data_provider).
#include <nghttp2/nghttp2.h>
