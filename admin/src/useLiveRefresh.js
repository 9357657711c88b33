/*
 * Live refresh of open lists and shows from the realtime stream (the
 * small part of @react-admin/ra-realtime this app needs).
 *
 *   useLiveList('tickets')               // in a list: refetch its pages on any ticket change
 *   useLiveRecord('tickets', record.id)  // in a show: refetch the record when it changes
 *   useLiveList(['comments', 'ticket_attachments'])  // a page's children (ReferenceManyField)
 *
 * A message invalidates the matching react-query queries of React Admin
 * ([resource, 'getList' | 'getManyReference' | 'getMany' | 'getOne', …]),
 * so only what is on screen is read again. A list-topic message with no
 * ids ("the stream could not resume: reload everything") invalidates
 * every query of the resource, open records included.
 */
import { useEffect } from 'react';
import { useDataProvider } from 'react-admin';
import { useQueryClient } from '@tanstack/react-query';

const LIST_KINDS = ['getList', 'getManyReference', 'getMany', 'getInfiniteList'];

export function useLiveList(resources, { enabled = true } = {}) {
  const dataProvider = useDataProvider();
  const queryClient = useQueryClient();
  // One resource or several (a page's children); a string keeps the
  // effect's dependency stable whatever array the caller builds.
  const names = [].concat(resources ?? []).filter(Boolean).join(',');
  useEffect(() => {
    if (!enabled || !names || typeof dataProvider.subscribe !== 'function') return undefined;
    const subscriptions = names.split(',').map((resource) => {
      const topic = `resource/${resource}`;
      const callback = (event) => {
        const ids = (event?.payload?.ids ?? []).map(String);
        queryClient.invalidateQueries({
          predicate: (q) =>
            q.queryKey[0] === resource &&
            (ids.length === 0 || LIST_KINDS.includes(q.queryKey[1]) ||
              (q.queryKey[1] === 'getOne' && ids.includes(String(q.queryKey[2]?.id)))),
        });
      };
      dataProvider.subscribe(topic, callback);
      return [topic, callback];
    });
    return () => {
      for (const [topic, callback] of subscriptions) dataProvider.unsubscribe(topic, callback);
    };
  }, [dataProvider, queryClient, names, enabled]);
}

export function useLiveRecord(resource, id, { enabled = true } = {}) {
  const dataProvider = useDataProvider();
  const queryClient = useQueryClient();
  useEffect(() => {
    if (!enabled || !resource || id === undefined || id === null || typeof dataProvider.subscribe !== 'function') {
      return undefined;
    }
    const refetch = () =>
      queryClient.invalidateQueries({
        predicate: (q) =>
          q.queryKey[0] === resource && q.queryKey[1] === 'getOne' && String(q.queryKey[2]?.id) === String(id),
      });
    const recordTopic = `resource/${resource}/${id}`;
    const onRecord = () => refetch();
    // The resource topic matters too: an empty-ids message there means
    // "reload everything", this record included.
    const listTopic = `resource/${resource}`;
    const onList = (event) => {
      const ids = event?.payload?.ids ?? [];
      if (ids.length === 0 || ids.map(String).includes(String(id))) refetch();
    };
    dataProvider.subscribe(recordTopic, onRecord);
    dataProvider.subscribe(listTopic, onList);
    return () => {
      dataProvider.unsubscribe(recordTopic, onRecord);
      dataProvider.unsubscribe(listTopic, onList);
    };
  }, [dataProvider, queryClient, resource, id, enabled]);
}
