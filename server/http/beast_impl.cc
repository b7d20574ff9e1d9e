// The single translation unit that compiles Asio and Beast (BOOST_*_SEPARATE_COMPILATION), so
// the other files only parse their headers.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
