DEFINE input = 'S'; DEFINE min_amount = '10'; DEFINE label = '''big''';
CREATE SOURCE TABLE NAMES (ID STRING PRIMARY KEY, V BIGINT, NAME STRING) WITH (kafka_topic='t', value_format='JSON');
CREATE STREAM BIG AS SELECT ${INPUT}.ID AS ID, ${label} AS L, '$${not_substituted}' AS RAW, N.NAME AS NAME FROM ${input} JOIN NAMES N ON ${input}.ID = N.ID WHERE AMOUNT > ${min_amount} EMIT CHANGES;
