// Chunk files for the shares column family through RocksDB's C++ SstFileWriter (see sst_file.h).
//
// Why C++: the C API's writer fsyncs each file in Finish() and then drops its
// pages (invalidate_page_cache = true, not settable in c.h). For a staged
// chunk both are wrong: durability is needed only when the party votes
// (store_staging_sync_files fsyncs all of a txn's files then, usually after
// the kernel has written them back), and the ingest at Commit reads each
// file's data block back — from disk when its pages were dropped.
#include "store/sst_file.h"

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_reader.h>
#include <rocksdb/sst_file_writer.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

namespace
{

using namespace ROCKSDB_NAMESPACE;

// A writable file whose Sync/Fsync/RangeSync do nothing: the writer's
// Finish() calls Sync unconditionally.
class UnsyncedFile : public FSWritableFileOwnerWrapper
{
      public:
	explicit UnsyncedFile(std::unique_ptr<FSWritableFile> &&t)
	    : FSWritableFileOwnerWrapper(std::move(t))
	{
	}
	IOStatus Sync(const IOOptions &, IODebugContext *) override
	{
		return IOStatus::OK();
	}
	IOStatus Fsync(const IOOptions &, IODebugContext *) override
	{
		return IOStatus::OK();
	}
	IOStatus RangeSync(uint64_t, uint64_t, const IOOptions &, IODebugContext *) override
	{
		return IOStatus::OK();
	}
};

class UnsyncedFS : public FileSystemWrapper
{
      public:
	UnsyncedFS() : FileSystemWrapper(FileSystem::Default())
	{
	}
	const char *Name() const override
	{
		return "MpcUnsyncedFS";
	}
	IOStatus NewWritableFile(const std::string &f, const FileOptions &fo,
				 std::unique_ptr<FSWritableFile> *r, IODebugContext *dbg) override
	{
		std::unique_ptr<FSWritableFile> file;
		IOStatus s = target()->NewWritableFile(f, fo, &file, dbg);
		if (s.ok())
			r->reset(new UnsyncedFile(std::move(file)));
		return s;
	}
};

Env *unsynced_env()
{
	static std::unique_ptr<Env> env = NewCompositeEnv(std::make_shared<UnsyncedFS>());
	return env.get();
}

int fail(const Status &s, char **err)
{
	if (err != nullptr)
		*err = strdup(s.ToString().c_str());
	return -1;
}

} // namespace

extern "C" int store_sst_file_write(const char *path, const char *key, size_t klen, const void *val,
				    size_t vlen, char **err)
{
	try {
		Options opts;
		opts.env = unsynced_env();
		opts.compression = kNoCompression; // shares are uniformly random (db.c)
		SstFileWriter w(EnvOptions(), opts, nullptr, false /* invalidate_page_cache */);
		Status s = w.Open(path);
		if (s.ok())
			s = w.Put(Slice(key, klen), Slice(static_cast<const char *>(val), vlen));
		if (s.ok())
			s = w.Finish();
		return s.ok() ? 0 : fail(s, err);
	} catch (const std::exception &e) {
		if (err != nullptr)
			*err = strdup(e.what());
		return -1;
	}
}

extern "C" int store_sst_file_verify(const char *path, char **err)
{
	try {
		Options opts;
		SstFileReader r(opts);
		Status s = r.Open(path);
		if (s.ok())
			s = r.VerifyChecksum();
		return s.ok() ? 0 : fail(s, err);
	} catch (const std::exception &e) {
		if (err != nullptr)
			*err = strdup(e.what());
		return -1;
	}
}
