//! The VM. (Being written.)
use super::batch::{Connection, RecordBatch};
use super::diagnostic::Diagnostic;
use super::program::Program;

pub struct Vm<'p> {
    #[allow(dead_code)]
    program: &'p Program,
}

impl<'p> Vm<'p> {
    pub fn new(program: &'p Program) -> Vm<'p> {
        Vm { program }
    }
    pub fn eval_json(&self, _input: Option<&serde_json::Value>, _out: &mut Vec<u8>) -> Result<bool, Diagnostic> {
        unimplemented!()
    }
    pub fn eval_batch(&self, _batch: &RecordBatch, _conn: &Connection, _out: &mut Vec<u8>) -> Result<(), Diagnostic> {
        unimplemented!()
    }
}
