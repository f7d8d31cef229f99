#include "command.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "model/json_io.hpp"

namespace dr::cli {

Result<std::string> read_input(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), {});
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(Errc::not_found, "cannot read '" + path + "': " + std::strerror(errno), errno);
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return fail(Errc::unavailable, "error reading '" + path + "'");
  return text.str();
}

Status write_output(const std::string& path, std::string_view text) {
  if (path == "-") {
    std::cout << text << std::flush;
    return {};
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      return fail(Errc::unavailable, "cannot write '" + tmp + "': " + std::strerror(errno), errno);
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return fail(Errc::unavailable, "cannot write '" + path + "': " + ec.message());
  return {};
}

void print_problems(const model::Problems& problems, std::ostream& out, const std::string& prefix) {
  for (const auto& p : problems) out << prefix << model::format(p) << '\n';
}

template <class T>
std::optional<T> load_document(const std::string& path,
                               Result<T, model::Problems> (*parse)(std::string_view),
                               std::ostream& err) {
  auto text = read_input(path);
  if (!text) {
    err << "drpair: " << text.error().message << '\n';
    return std::nullopt;
  }
  auto doc = parse(*text);
  if (!doc) {
    print_problems(doc.error(), err, path + ": ");
    return std::nullopt;
  }
  return std::move(*doc);
}

template std::optional<model::FirstDescription> load_document(
    const std::string&, model::Parsed<model::FirstDescription> (*)(std::string_view),
    std::ostream&);
template std::optional<model::SecondDescription> load_document(
    const std::string&, model::Parsed<model::SecondDescription> (*)(std::string_view),
    std::ostream&);
template std::optional<model::MappingPolicy> load_document(
    const std::string&, model::Parsed<model::MappingPolicy> (*)(std::string_view), std::ostream&);
template std::optional<model::Inventory> load_document(
    const std::string&, model::Parsed<model::Inventory> (*)(std::string_view), std::ostream&);

}  // namespace dr::cli
