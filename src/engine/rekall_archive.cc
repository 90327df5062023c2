#include "engine/rekall_archive.h"

#include <cstring>
#include <ctime>

#include <minizip/unzip.h>
#include <minizip/zip.h>

namespace rekall {

namespace {

constexpr const char* kManifest = "manifest.json";
constexpr const char* kEntries = "entries.json";

// minizip's file functions over bytes in memory: reading `in`, or writing
// into *out (the writer seeks back to complete each member's header).
struct MemFile {
  std::string_view in;
  std::string* out = nullptr;
  size_t pos = 0;
  size_t size() const { return out ? out->size() : in.size(); }
};

voidpf ZCALLBACK MemOpen(voidpf opaque, const void*, int) {
  static_cast<MemFile*>(opaque)->pos = 0;
  return opaque;
}
uLong ZCALLBACK MemRead(voidpf, voidpf stream, void* buf, uLong n) {
  auto* f = static_cast<MemFile*>(stream);
  size_t k = f->pos < f->in.size() ? std::min<size_t>(n, f->in.size() - f->pos) : 0;
  if (k) std::memcpy(buf, f->in.data() + f->pos, k);
  f->pos += k;
  return static_cast<uLong>(k);
}
uLong ZCALLBACK MemWrite(voidpf, voidpf stream, const void* buf, uLong n) {
  auto* f = static_cast<MemFile*>(stream);
  if (!f->out) return 0;
  if (f->pos + n > f->out->size()) f->out->resize(f->pos + n);
  std::memcpy(f->out->data() + f->pos, buf, n);
  f->pos += n;
  return n;
}
ZPOS64_T ZCALLBACK MemTell(voidpf, voidpf stream) { return static_cast<MemFile*>(stream)->pos; }
long ZCALLBACK MemSeek(voidpf, voidpf stream, ZPOS64_T offset, int origin) {
  auto* f = static_cast<MemFile*>(stream);
  ZPOS64_T base = origin == ZLIB_FILEFUNC_SEEK_SET ? 0 : origin == ZLIB_FILEFUNC_SEEK_CUR ? f->pos : f->size();
  if (offset > f->size() || base > f->size() - offset) return -1;
  f->pos = base + offset;
  return 0;
}
int ZCALLBACK MemClose(voidpf, voidpf) { return 0; }
int ZCALLBACK MemError(voidpf, voidpf) { return 0; }

zlib_filefunc64_def MemFunctions(MemFile* f) {
  zlib_filefunc64_def d;
  d.zopen64_file = MemOpen;
  d.zread_file = MemRead;
  d.zwrite_file = MemWrite;
  d.ztell64_file = MemTell;
  d.zseek64_file = MemSeek;
  d.zclose_file = MemClose;
  d.zerror_file = MemError;
  d.opaque = f;
  return d;
}

Status Bad(const std::string& what) { return Status::InvalidArgument("not a Rekall archive: " + what); }

std::string MiB(size_t n) { return std::to_string(n >> 20) + " MiB"; }

// Reads member `name` whole, refusing one over `max` bytes by its header or
// by what it inflates to, and one whose CRC does not match.
Status ReadMember(unzFile uf, const char* name, size_t max, std::string* out) {
  if (unzLocateFile(uf, name, 1) != UNZ_OK) return Bad(std::string("no ") + name);
  unz_file_info64 info;
  if (unzGetCurrentFileInfo64(uf, &info, nullptr, 0, nullptr, 0, nullptr, 0) != UNZ_OK)
    return Bad(std::string(name) + " is unreadable");
  if (info.uncompressed_size > max) return Bad(std::string(name) + " is larger than " + MiB(max));
  if (unzOpenCurrentFile(uf) != UNZ_OK) return Bad(std::string(name) + " cannot be opened (encrypted or unknown method?)");
  out->clear();
  char buf[1 << 16];
  int n = 0;
  while ((n = unzReadCurrentFile(uf, buf, sizeof buf)) > 0) {
    if (out->size() + static_cast<size_t>(n) > max) break;
    out->append(buf, static_cast<size_t>(n));
  }
  int closed = unzCloseCurrentFile(uf);  // UNZ_CRCERROR when the bytes do not match
  if (n > 0) return Bad(std::string(name) + " inflates beyond " + MiB(max));
  if (n < 0 || closed != UNZ_OK) return Bad(std::string(name) + " is damaged");
  return Status::OK();
}

Status AddMember(zipFile zf, const char* name, const std::string& data, const std::tm& now) {
  zip_fileinfo zi{};
  zi.tmz_date.tm_sec = now.tm_sec;
  zi.tmz_date.tm_min = now.tm_min;
  zi.tmz_date.tm_hour = now.tm_hour;
  zi.tmz_date.tm_mday = now.tm_mday;
  zi.tmz_date.tm_mon = now.tm_mon;
  zi.tmz_date.tm_year = now.tm_year + 1900;
  zi.external_fa = 0600u << 16;  // mode 0600, as Python's zipfile writes Rekall's
  constexpr uLong kMadeOnUnix = (3u << 8) | 20u, kUtf8Names = 1u << 11;
  if (zipOpenNewFileInZip4_64(zf, name, &zi, nullptr, 0, nullptr, 0, nullptr, Z_DEFLATED, Z_DEFAULT_COMPRESSION, 0,
                              -MAX_WBITS, DEF_MEM_LEVEL, Z_DEFAULT_STRATEGY, nullptr, 0, kMadeOnUnix, kUtf8Names,
                              0) != ZIP_OK)
    return Status::IOError(std::string("zip: cannot add ") + name);
  constexpr size_t kChunk = 1 << 20;
  for (size_t off = 0; off < data.size(); off += kChunk) {
    unsigned len = static_cast<unsigned>(std::min(kChunk, data.size() - off));
    if (zipWriteInFileInZip(zf, data.data() + off, len) != ZIP_OK) return Status::IOError("zip: write failed");
  }
  if (zipCloseFileInZip(zf) != ZIP_OK) return Status::IOError(std::string("zip: cannot close ") + name);
  return Status::OK();
}

}  // namespace

Status ReadRekallArchive(std::string_view zip, const RekallArchiveLimits& limits, std::string* manifest_json,
                         std::string* entries_json) {
  if (zip.size() > limits.max_archive_bytes) return Bad("larger than " + MiB(limits.max_archive_bytes));
  MemFile mem;
  mem.in = zip;
  zlib_filefunc64_def ff = MemFunctions(&mem);
  unzFile uf = unzOpen2_64("archive", &ff);
  if (!uf) return Bad("no zip archive");
  unz_global_info64 gi;
  Status s;
  if (unzGetGlobalInfo64(uf, &gi) != UNZ_OK) s = Bad("no zip archive");
  else if (gi.number_entry > limits.max_members) s = Bad("more than " + std::to_string(limits.max_members) + " members");
  if (s.ok()) s = ReadMember(uf, kManifest, limits.max_manifest_bytes, manifest_json);
  if (s.ok()) s = ReadMember(uf, kEntries, limits.max_entries_json_bytes, entries_json);
  unzClose(uf);
  return s;
}

Status WriteRekallArchive(const std::string& manifest_json, const std::string& entries_json, std::string* zip) {
  zip->clear();
  MemFile mem;
  mem.out = zip;
  zlib_filefunc64_def ff = MemFunctions(&mem);
  zipFile zf = zipOpen2_64("archive", APPEND_STATUS_CREATE, nullptr, &ff);
  if (!zf) return Status::IOError("zip: cannot create the archive");
  std::time_t t = std::time(nullptr);
  std::tm now{};
  localtime_r(&t, &now);
  Status s = AddMember(zf, kManifest, manifest_json, now);
  if (s.ok()) s = AddMember(zf, kEntries, entries_json, now);
  if (zipClose(zf, nullptr) != ZIP_OK && s.ok()) s = Status::IOError("zip: cannot finish the archive");
  return s;
}

}  // namespace rekall
