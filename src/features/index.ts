/**
 * Feature vectors: extracted through a backbone and cached (`extractFeatures` with `FeatureStore`, keyed by
 * `featureKey`), computed shard by shard (`embedShard`), read in blocks (`openShardSet`, `ShardRows`), and moved
 * in and out as Parquet.
 * @packageDocumentation
 */
export { featureKey, type FeatureKeyParts } from './cache-key.js';
export { FEATURE_STORE_FILE, FEATURE_STORE_SCHEMA_VERSION, FeatureStore, type FeatureEntry, type FeatureStoreStats } from './feature-store.js';
export { FEATURE_DTYPES, storedValues, type FeatureDtype } from './vector-encoding.js';
export { defaultCacheDir, type CacheDirEnvironment } from '../core/cache-dir.js';
export { CacheSpace } from './cache-space.js';
export { extractFeatures, type ExtractionResult, type ExtractOptions } from './extract-features.js';
export { extractViews, type CutPrefix, type ExtractViewsOptions, type ViewExtractionResult } from './extract-views.js';
export { DEFAULT_ROWS_PER_BLOCK, checkBlockSize, inMemoryRows, materialiseRows, type FeatureBlock, type FeatureRows, type RowSource } from './feature-rows.js';
export { FileHashIndex } from './file-hash-index.js';
export { MAX_SHARDS, SINGLE_SHARD, parseShardFileName, parseShardSpec, shardFileName, shardOf, type ShardSpec } from './shard-spec.js';
export { SHARD_SCHEMA_VERSION, ShardStore, type ShardMeta, type ShardPart, type ShardRow, type ShardRowStamp } from './shard-store.js';
export { isFeatureStore, openShardSet, storeStatus, type ShardSet, type ShardStatus, type StoreStatus } from './shard-set.js';
export { ShardRows, type FeatureBlockWithFiles, type RowFile, type ShardRowSelection } from './shard-rows.js';
export { embedShard, type EmbedShardOptions, type EmbedShardResult } from './embed-shard.js';
export { writeSyntheticShards, type SyntheticShardsOptions } from './synthetic-shards.js';
export { PARQUET_META_KEY, PARQUET_ROWS_PER_GROUP, exportParquet, type ParquetExportResult } from './export-parquet.js';
export { importParquet, type ParquetImportResult } from './import-parquet.js';
