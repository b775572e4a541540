pub mod example;
pub mod logs;
pub mod wire;
