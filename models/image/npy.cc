// The .npy format: "\x93NUMPY", major, minor, a little-endian header length (2 bytes in 1.0,
// 4 bytes in 2.0/3.0), then a Python dict literal {'descr': ..., 'fortran_order': ..., 'shape':
// (...)} padded with spaces and a newline, then the raw array bytes.
// https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html

#include "models/image/npy.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>

#include "models/image/image_decode.h"

namespace mls {
namespace {

constexpr std::size_t kMaxHeaderBytes = 65536;

Error npy_error(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, "bad .npy: " + std::move(message));
}

std::string shape_text(const std::vector<std::size_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

// A tiny reader for the one dict literal NumPy writes. Anything else is refused.
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view text) : text_(text) {}

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool at_end() {
    skip_space();
    return pos_ == text_.size();
  }
  std::optional<std::string> string_literal() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) return std::nullopt;
    const char quote = text_[pos_++];
    const std::size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) return std::nullopt;
    std::string value(text_.substr(pos_, end - pos_));
    if (value.find('\\') != std::string::npos) return std::nullopt;  // no escapes in NumPy's keys
    pos_ = end + 1;
    return value;
  }
  std::optional<bool> bool_literal() {
    skip_space();
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    return std::nullopt;
  }
  // A non-negative decimal integer that fits in size_t.
  std::optional<std::size_t> integer() {
    skip_space();
    std::size_t value = 0;
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const std::size_t digit = static_cast<std::size_t>(text_[pos_] - '0');
      if (value > (SIZE_MAX - digit) / 10) return std::nullopt;
      value = value * 10 + digit;
      ++pos_;
    }
    if (pos_ == start) return std::nullopt;
    return value;
  }
  // "(a, b, c)", "(a,)" or "()".
  std::optional<std::vector<std::size_t>> tuple(std::size_t max_dims) {
    if (!consume('(')) return std::nullopt;
    std::vector<std::size_t> dims;
    if (consume(')')) return dims;
    while (true) {
      auto dim = integer();
      if (!dim || dims.size() == max_dims) return std::nullopt;
      dims.push_back(*dim);
      if (consume(')')) return dims;
      if (!consume(',')) return std::nullopt;
      if (consume(')')) return dims;
    }
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

struct DtypeInfo {
  NpyDtype dtype;
  bool big_endian;
};

std::optional<DtypeInfo> parse_descr(const std::string& descr) {
  if (descr.size() < 2) return std::nullopt;
  char order = '<';
  std::string_view kind = descr;
  if (descr[0] == '<' || descr[0] == '>' || descr[0] == '|' || descr[0] == '=') {
    order = descr[0];
    kind.remove_prefix(1);
  }
  const bool big = order == '>';
  if (kind == "u1") return DtypeInfo{NpyDtype::kUint8, false};
  if (order == '|') return std::nullopt;  // "|" is for one-byte types only
  if (kind == "f4") return DtypeInfo{NpyDtype::kFloat32, big};
  if (kind == "f8") return DtypeInfo{NpyDtype::kFloat64, big};
  if (kind == "i4") return DtypeInfo{NpyDtype::kInt32, big};
  if (kind == "i8") return DtypeInfo{NpyDtype::kInt64, big};
  return std::nullopt;
}

std::size_t dtype_size(NpyDtype dtype) {
  switch (dtype) {
    case NpyDtype::kUint8:
      return 1;
    case NpyDtype::kInt32:
    case NpyDtype::kFloat32:
      return 4;
    case NpyDtype::kInt64:
    case NpyDtype::kFloat64:
      return 8;
  }
  return 1;
}

std::uint32_t read_le(const unsigned char* p, int n) {
  std::uint32_t v = 0;
  for (int i = n - 1; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}

}  // namespace

const char* npy_dtype_name(NpyDtype dtype) {
  switch (dtype) {
    case NpyDtype::kUint8:
      return "uint8";
    case NpyDtype::kInt32:
      return "int32";
    case NpyDtype::kInt64:
      return "int64";
    case NpyDtype::kFloat32:
      return "float32";
    case NpyDtype::kFloat64:
      return "float64";
  }
  return "?";
}

std::size_t NpyArray::item_size() const {
  return dtype_size(dtype);
}

std::size_t NpyArray::element_count() const {
  std::size_t n = 1;
  for (std::size_t d : shape)
    n *= d;
  return n;
}

Result<NpyArray> parse_npy(std::string_view bytes, const NpyLimits& limits) {
  static_assert(std::endian::native == std::endian::little,
                "the .npy reader assumes little-endian");
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 10 || std::memcmp(p, "\x93NUMPY", 6) != 0) {
    return npy_error("not a .npy file (bad magic)");
  }
  const int major = p[6];
  if (major < 1 || major > 3) {
    return npy_error("unsupported format version " + std::to_string(major) + "." +
                     std::to_string(p[7]));
  }
  const int len_bytes = major == 1 ? 2 : 4;
  if (bytes.size() < static_cast<std::size_t>(8 + len_bytes)) return npy_error("truncated header");
  const std::size_t header_len = read_le(p + 8, len_bytes);
  const std::size_t data_start = 8 + static_cast<std::size_t>(len_bytes) + header_len;
  if (header_len > kMaxHeaderBytes) {
    return npy_error("header length " + std::to_string(header_len) + " is absurd");
  }
  if (data_start > bytes.size()) return npy_error("truncated header");

  HeaderParser parser(bytes.substr(8 + static_cast<std::size_t>(len_bytes), header_len));
  std::optional<std::string> descr;
  std::optional<bool> fortran;
  std::optional<std::vector<std::size_t>> shape;
  if (!parser.consume('{')) return npy_error("header is not a dict");
  while (!parser.consume('}')) {
    auto key = parser.string_literal();
    if (!key || !parser.consume(':')) return npy_error("malformed header dict");
    if (*key == "descr" && !descr) {
      descr = parser.string_literal();
      if (!descr) return npy_error("unsupported dtype (not a simple type string)");
    } else if (*key == "fortran_order" && !fortran) {
      fortran = parser.bool_literal();
      if (!fortran) return npy_error("fortran_order is not True or False");
    } else if (*key == "shape" && !shape) {
      shape = parser.tuple(limits.max_dims);
      if (!shape) {
        return npy_error("shape is not a tuple of at most " + std::to_string(limits.max_dims) +
                         " non-negative integers");
      }
    } else {
      return npy_error("unexpected or repeated header key '" + *key + "'");
    }
    if (!parser.consume(',')) {
      if (!parser.consume('}')) return npy_error("malformed header dict");
      break;
    }
  }
  if (!parser.at_end()) return npy_error("junk after the header dict");
  if (!descr || !fortran || !shape) {
    return npy_error("header lacks descr, fortran_order or shape");
  }
  if (*fortran) return npy_error("fortran_order True is not supported (save C-ordered arrays)");
  const auto info = parse_descr(*descr);
  if (!info) {
    return npy_error("unsupported dtype '" + *descr +
                     "' (uint8, int32, int64, float32 or float64 only)");
  }

  NpyArray array;
  array.dtype = info->dtype;
  array.shape = std::move(*shape);
  const std::size_t item = dtype_size(array.dtype);
  std::size_t need = item;
  for (std::size_t d : array.shape) {
    if (d != 0 && need > limits.max_bytes / d) {
      return npy_error("shape " + shape_text(array.shape) + " of " + npy_dtype_name(array.dtype) +
                       " is over the " + std::to_string(limits.max_bytes) + "-byte limit");
    }
    need *= d;
  }
  const std::size_t have = bytes.size() - data_start;
  if (need != have) {
    return npy_error(std::string(have < need ? "truncated: " : "size mismatch: ") + "shape " +
                     shape_text(array.shape) + " of " + npy_dtype_name(array.dtype) + " needs " +
                     std::to_string(need) + " bytes, " + std::to_string(have) + " present");
  }
  array.data.assign(bytes.substr(data_start));
  if (info->big_endian && item > 1) {
    for (std::size_t i = 0; i < array.data.size(); i += item) {
      std::reverse(array.data.begin() + static_cast<std::ptrdiff_t>(i),
                   array.data.begin() + static_cast<std::ptrdiff_t>(i + item));
    }
  }
  return array;
}

namespace {

template <class T>
T load(const std::string& data, std::size_t i) {
  T v;
  std::memcpy(&v, data.data() + i * sizeof(T), sizeof(T));
  return v;
}

double element_as_double(const NpyArray& a, std::size_t i) {
  switch (a.dtype) {
    case NpyDtype::kUint8:
      return static_cast<unsigned char>(a.data[i]);
    case NpyDtype::kInt32:
      return load<std::int32_t>(a.data, i);
    case NpyDtype::kInt64:
      return static_cast<double>(load<std::int64_t>(a.data, i));
    case NpyDtype::kFloat32:
      return load<float>(a.data, i);
    case NpyDtype::kFloat64:
      return load<double>(a.data, i);
  }
  return 0;
}

}  // namespace

Result<ImageBatch> npy_to_images(const NpyArray& array, const ImageLimits& limits) {
  const auto& s = array.shape;
  ImageBatch batch;
  if (s.size() == 2) {
    batch.count = 1, batch.height = s[0], batch.width = s[1];
  } else if (s.size() == 3) {
    batch.count = s[0], batch.height = s[1], batch.width = s[2];
  } else if (s.size() == 4 && s[3] == 1) {
    batch.count = s[0], batch.height = s[1], batch.width = s[2];
  } else if (s.size() == 4 && s[1] == 1) {
    batch.count = s[0], batch.height = s[2], batch.width = s[3];
  } else {
    return make_error(ErrorCode::kInvalidArgument,
                      "image array has shape " + shape_text(s) +
                          "; expected HxW, NxHxW or NxHxWx1 grayscale images");
  }
  if (batch.count == 0) return make_error(ErrorCode::kInvalidArgument, "image array is empty");
  if (Status budget = check_pixel_budget(batch.width, batch.height, limits); !budget.ok()) {
    return budget.error();
  }
  const std::size_t n = array.element_count();
  switch (array.dtype) {
    case NpyDtype::kUint8:
      batch.u8.assign(array.data.begin(), array.data.end());
      return batch;
    case NpyDtype::kFloat32:
    case NpyDtype::kFloat64:
      batch.is_float = true;
      batch.f32.resize(n);
      for (std::size_t i = 0; i < n; ++i) {
        const double v = element_as_double(array, i);
        if (!(v >= 0.0 && v <= 1.0)) {  // also catches NaN
          const std::size_t per = batch.height * batch.width;
          return make_error(ErrorCode::kInvalidArgument,
                            "float pixel " + std::to_string(v) + " (image " +
                                std::to_string(i / per) + ", row " +
                                std::to_string(i % per / batch.width) + ", column " +
                                std::to_string(i % batch.width) +
                                ") is outside [0, 1]; send uint8 for 0..255 pixel values");
        }
        batch.f32[i] = static_cast<float>(v);
      }
      return batch;
    case NpyDtype::kInt32:
    case NpyDtype::kInt64:
      break;
  }
  return make_error(ErrorCode::kInvalidArgument, std::string("image array has dtype ") +
                                                     npy_dtype_name(array.dtype) +
                                                     "; expected uint8 (0..255) or float32 (0..1)");
}

Result<std::vector<std::int64_t>> npy_to_labels(const NpyArray& array) {
  const auto& s = array.shape;
  if (!(s.size() == 1 || (s.size() == 2 && s[1] == 1))) {
    return make_error(ErrorCode::kInvalidArgument,
                      "label array has shape " + shape_text(s) + "; expected N or Nx1");
  }
  const std::size_t n = s[0];
  std::vector<std::int64_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (array.dtype == NpyDtype::kInt64) {
      labels[i] = load<std::int64_t>(array.data, i);
      continue;
    }
    const double v = element_as_double(array, i);
    if (!std::isfinite(v) || v != std::floor(v) || std::fabs(v) > 9e15) {
      return make_error(
          ErrorCode::kInvalidArgument,
          "label " + std::to_string(i) + " is not an integer (" + std::to_string(v) + ")");
    }
    labels[i] = static_cast<std::int64_t>(v);
  }
  return labels;
}

}  // namespace mls
