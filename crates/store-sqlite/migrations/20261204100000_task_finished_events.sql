-- A task started on a user's behalf tells its owner when it ends (completed, discarded after its
-- last attempt, or cancelled): the user event is written by the statement that ends the task, so
-- it exists exactly when the end does, whichever worker, rescuer or operator ended it. A user
-- erased meanwhile gets nothing (the event log refers to users). Tasks of nobody (system tasks,
-- the bulk of the queue) skip the trigger at its WHEN clause.
CREATE TRIGGER tasks_finished_event
AFTER UPDATE OF state ON tasks
FOR EACH ROW
WHEN NEW.user_id IS NOT NULL
 AND NEW.state IN ('completed', 'discarded', 'cancelled')
 AND OLD.state IS NOT NEW.state
BEGIN
    INSERT INTO user_events (user_id, kind, data, created_at)
    SELECT NEW.user_id, 'task.finished',
           json_object('task_id', NEW.id, 'kind', NEW.kind, 'queue', NEW.queue,
                       'state', NEW.state, 'attempt', NEW.attempt),
           strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
    WHERE EXISTS (SELECT 1 FROM users WHERE id = NEW.user_id);
END;
